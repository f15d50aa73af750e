"""recon.toml is read strictly: a value of the wrong type is an error naming section and key."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from conftest import Recon

from recon.config import DEFAULTS_PATH, ConfigError, _File, load_config


def config_of(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recon.toml"
    path.write_text(text, encoding="utf-8")
    return path


def error_of(tmp_path: Path, text: str) -> str:
    path = config_of(tmp_path, text)
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: "), message  # the file is always named
    return message.removeprefix(f"{path}: ")


WRONG_TYPES = [
    # A bool: "false" in quotes is a string, which Python would call true.
    ('[reconcile]\nfuzzy = "false"\n', '[reconcile] fuzzy: expected true or false, got "false"'),
    ("[signoff]\ndistinct_signers = 0\n", "[signoff] distinct_signers: expected true or false, got 0"),
    # An int: neither a fraction, a string nor a bool.
    ("[deadlines]\npop_days = 1.5\n", "[deadlines] pop_days: expected a whole number, got 1.5"),
    ('[signoff]\nmax_rows = "100"\n', '[signoff] max_rows: expected a whole number, got "100"'),
    ("[store]\nthreads = true\n", "[store] threads: expected a whole number, got true"),
    # A float: a number, finite.
    ('[report]\nsrb_low = "103"\n', '[report] srb_low: expected a number, got "103"'),
    ("[expectations]\nsrb_max = inf\n", "[expectations] srb_max: expected a finite number, got inf"),
    # A list: a string is not a list of its letters.
    ('[signoff]\nroles = "abc"\n', '[signoff] roles: expected a list like [...], got "abc"'),
    ('[inbox]\npop = "pop*"\n', '[inbox] pop: expected a list like [...], got "pop*"'),
    ('[signoff]\nroles = ["a", 2]\n', "[signoff] roles item 2: expected a string in quotes, got 2"),
    # A string.
    ("[audit]\nheads = 1\n", "[audit] heads: expected a string in quotes, got 1"),
    ("[divisions]\npath = false\n", "[divisions] path: expected a string in quotes, got false"),
    ('[headers.pop]\n"出生年月日" = 3\n', "[headers.pop] 出生年月日: expected a string in quotes, got 3"),
    # A table where a table belongs.
    ("reconcile = 3\n", "[reconcile]: expected a table, got 3"),
    ('[reconcile]\nconfidence = "high"\n', '[reconcile] confidence: expected a table, got "high"'),
    ('[reconcile.confidence]\nagreed = "0.9"\n', '[reconcile.confidence] agreed: expected a number, got "0.9"'),
    # A section added since is as strict.
    ('[ingest]\nmax_columns = "1000"\n', '[ingest] max_columns: expected a whole number, got "1000"'),
]  # fmt: skip


@pytest.mark.parametrize(("text", "message"), WRONG_TYPES)
def test_a_value_of_the_wrong_type_names_section_and_key(
    tmp_path: Path, text: str, message: str
) -> None:
    assert error_of(tmp_path, text) == message


def test_unknown_keys_and_sections_are_errors(tmp_path: Path) -> None:
    assert error_of(tmp_path, "[deadlines]\npop_dayz = 120\n") == (
        "[deadlines] pop_dayz: unknown setting (one of pop_days, police_days)"
    )
    unknown = error_of(tmp_path, "[dead_lines]\npop_days = 120\n")
    assert unknown.startswith("[dead_lines]: unknown section (one of inbox, ")
    assert "deadlines" in unknown and "signoff" in unknown
    assert error_of(tmp_path, "fuzzy = false\n").startswith("[fuzzy]: unknown section")


def test_a_nested_unknown_key_is_an_error(tmp_path: Path) -> None:
    assert error_of(tmp_path, "[report.extra]\nx = 1\n").startswith(
        "[report] extra: unknown setting (one of hosp_days, "
    )
    # Nested tables keyed by field keep their own, more helpful, messages.
    assert error_of(tmp_path, '[reconcile.authority]\nnmae = ["pop"]\n').startswith(
        "[reconcile.authority] nmae: not a reconciled field (one of "
    )
    assert error_of(tmp_path, "[reconcile.confidence]\nagred = 0.9\n").startswith(
        "[reconcile.confidence] agred: unknown kind (one of "
    )
    assert error_of(tmp_path, '[headers.hospital]\n"x" = "sex"\n') == (
        "[headers.hospital]: unknown feed (use pop, hosp or police)"
    )


def test_every_wrong_value_is_listed_at_once(tmp_path: Path) -> None:
    message = error_of(tmp_path, '[reconcile]\nfuzzy = "no"\n[signoff]\nroles = "abc"\n')
    lines = message.split("\n")
    assert len(lines) == 2
    assert "[reconcile] fuzzy:" in message and "[signoff] roles:" in message


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[report]\nsrb_low = 108\n", "[report] srb_low must be below srb_high"),
        ('[report]\nmse_criterion = "r2"\n', '[report] mse_criterion must be "aic" or "bic"'),
        (
            '[signoff]\nroles = ["a", "a"]\n',
            "[signoff] roles must be distinct, non-empty names, in signing order",
        ),
        ("[signoff]\nmax_rows = 0\n", "[signoff] max_rows must be a whole number of at least 1"),
        (
            "[reconcile.confidence]\nagreed = 1.5\n",
            "[reconcile.confidence] agreed: a number from 0 to 1",
        ),
        (
            '[store]\nmemory_limit = "1 GiB"\n',
            "[store] memory_limit: not a size like '4GB': '1 GiB'",
        ),
        ("[store]\nthreads = 0\n", "[store] threads must be a whole number of at least 1"),
        (
            "[ingest]\nmax_record_lines = 0\n",
            "[ingest] max_record_lines must be a whole number of at least 1",
        ),
    ],
)
def test_checks_a_type_cannot_express_keep_their_messages(
    tmp_path: Path, text: str, message: str
) -> None:
    assert error_of(tmp_path, text) == message


def test_a_valid_override_still_works(tmp_path: Path) -> None:
    config = load_config(
        config_of(
            tmp_path,
            "[reconcile]\nfuzzy = false\nmin_match_weight = 6\n"
            '[signoff]\nroles = ["甲", "乙"]\nmax_rows = 50\n'
            '[report]\nsrb_low = 100\nmse_criterion = "BIC"\n'
            '[store]\nmemory_limit = "2GB"\n'
            '[audit]\nheads = "/var/lib/recon/heads"\n'
            '[headers.pop]\n"出生年月日" = "birth_date"\n'
            '[reconcile.authority]\nname = ["pop", "police"]\n',
        )
    )
    assert config.fuzzy is False
    assert config.min_match_weight == 6.0 and isinstance(config.min_match_weight, float)
    assert config.roles == config.signoff.roles == ("甲", "乙")
    assert config.signoff.max_rows == 50 and config.signoff.distinct_signers is True
    assert config.report.srb_low == 100.0 and config.report.srb_high == 107.0
    assert config.report.mse_criterion == "bic"
    assert config.store == {"memory_limit": "2GB", "max_temp_directory_size": "20GB", "threads": 2}
    assert config.heads_path == Path("/var/lib/recon/heads")
    assert config.header_aliases == {"pop": {"出生年月日": "birth_date"}}
    assert config.evidence.order("name") == ("pop", "police")
    assert config.evidence.order("sex") == ("hosp", "police", "pop")  # the rest stay default
    assert config.source[-1] == tmp_path / "recon.toml"


def test_every_default_is_modelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no ./recon.toml
    # A section or key added to defaults.toml without its type in the model fails here.
    raw = tomllib.loads(DEFAULTS_PATH.read_text(encoding="utf-8"))
    _File.model_validate(raw)
    assert set(raw) == set(_File.model_fields)
    defaults = load_config()
    assert defaults.deadlines == {"pop": 120, "police": 90}
    assert "pop*" in defaults.inbox_patterns["pop"]
    assert defaults.divisions_path is None and defaults.heads_path is None


def test_a_wrong_type_is_a_usage_error_before_the_store_is_touched(
    recon: Recon, tmp_path: Path
) -> None:
    inbox = tmp_path / "inbox"
    inbox.mkdir()
    config = config_of(tmp_path, '[reconcile]\nfuzzy = "false"\n[signoff]\nroles = "abc"\n')
    result = recon.run(inbox, "--config", str(config))
    assert result.exit_code == 2
    output = " ".join(result.output.split())  # the console wraps long lines
    assert '[reconcile] fuzzy: expected true or false, got "false"' in output
    assert '[signoff] roles: expected a list like [...], got "abc"' in output
    assert not recon.db.exists()
