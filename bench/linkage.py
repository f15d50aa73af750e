"""Benchmark: recon's linkage beside plain Splink best-links, on the same inbox, per mix.

    python bench/linkage.py --births 20000 --profile default register-errs movers
    python bench/linkage.py --inbox /path/to/inbox          # an inbox made elsewhere
    python bench/linkage.py --births 20000 --explain        # list recon's misses by kind

For each error mix (``recon generate --profile``, when the generator has profiles), it
generates an inbox (or reuses one), runs ``recon run`` on a new store (wall time and
peak memory of that process), scores recon's births pairwise against the truth (a true
pair: two records of different feeds of one birth; a register duplicate joins the
birth of the record it repeats), then runs bench/splink_baseline.py with best-links
clustering in its own process, scored the same way. Writes
bench/results/linkage-<births>-<profile>.json.

``--explain`` lists recon's false negatives and false positives by kind: the two
feeds, the fields the generator mistyped on either record (truth/misreports.parquet),
twins, register duplicates, and whether the record's slot went to another record.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import polars as pl

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from reconcile import recon_clusters  # noqa: E402
from splink_baseline import pairwise_f1  # noqa: E402

RECON = Path(sys.executable).with_name("recon")


def has_profiles() -> bool:
    out = subprocess.run([str(RECON), "generate", "--help"], capture_output=True, text=True)
    return "--profile" in out.stdout


def generate(births: int, seed: int, profile: str, folder: Path, rates: list[str]) -> Path:
    suffix = "" if not rates else "-" + "-".join(r.replace("=", "") for r in rates)
    inbox = folder / f"inbox-{births}-{seed}-{profile}{suffix}"
    if (inbox / "truth" / "manifest.json").exists():
        return inbox
    shutil.rmtree(inbox, ignore_errors=True)
    command = [str(RECON), "generate", "--births", str(births), "--seed", str(seed),
               "--out", str(inbox), "--hosp-format", "csv"]  # fmt: skip
    if profile != "default" or rates:
        if not has_profiles():
            raise SystemExit("recon generate has no --profile yet: use --profile default")
        command += ["--profile", profile]
        for rate in rates:
            command += ["--rate", rate]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return inbox


# --------------------------------------------------------------------------- double typos

_HOSP_FILE, _POLICE_FILE = "hosp_deliveries.csv", "police_births.csv"


def _id_typo(value: str, rng: Any) -> str:
    """One digit of the 17 typed wrong, or two neighbours swapped."""
    digits = list(value)
    i = int(rng.integers(6, 16))
    if rng.random() < 0.5 and digits[i] != digits[i + 1]:
        digits[i], digits[i + 1] = digits[i + 1], digits[i]
    else:
        digits[i] = str((int(digits[i]) + int(rng.integers(1, 10))) % 10)
    return "".join(digits)


def _date_typo(value: str, rng: Any) -> str | None:
    """The day's last digit off by one, in the forms "2024-03-05" and "2024/3/5"; or None."""
    import re

    found = re.match(r"^(\d{4})([-/])(\d{1,2})\2(\d{1,2})(.*)$", value.strip())
    if not found:
        return None
    year, sep, month, day, rest = found.groups()
    new_day = int(day) + (1 if int(day) < 28 else -1) * (1 if rng.random() < 0.5 else -1)
    new_day = min(max(new_day, 1), 28)
    width = len(day)
    return f"{year}{sep}{month}{sep}{new_day:0{width}d}{rest}"


def double_typos(inbox: Path, rate: float, seed: int) -> Path:
    """A copy of the inbox where `rate` of hosp and police rows carry two errors at once.

    Hosp: the mother's id mistyped and then the sex, the delivery date or the township.
    Police: the mother's id mistyped and then the date or the township (or the mother's
    id dropped and the date mistyped). What independent exports do and the generator,
    one injected change per record, never does. Truth keys are unchanged; the changes
    are appended to truth/misreports.parquet.
    """
    import numpy as np

    out = inbox.with_name(f"{inbox.name}-double{rate:g}")
    if (out / "truth" / "manifest.json").exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(inbox, out)
    rng = np.random.default_rng(seed)
    errors: list[dict[str, str]] = []
    townships = ["101", "102", "103", "104", "105", "106", "107", "108", "109", "110"]

    def township(code: str) -> str:
        if len(code) != 12:
            return code
        other = [t for t in townships if t != code[6:9]]
        return code[:6] + other[int(rng.integers(len(other)))] + code[9:]

    for name, key, mother, date_col, sex_col, division in (
        (
            _HOSP_FILE,
            "登记编号",
            "产妇公民身份号码",
            "分娩时间",
            "新生儿性别",
            "产妇户籍地区划代码",
        ),
        (_POLICE_FILE, "id_number", "mother_id", "birth_date", None, "division_code"),
    ):
        path = out / name
        if not path.exists():
            continue
        raw = path.read_bytes()
        bom = raw.startswith(b"\xef\xbb\xbf")
        lines = raw[3 if bom else 0 :].decode("utf-8").split("\n")
        header = lines[0].rstrip("\r").split(",")
        feed = "hosp" if name == _HOSP_FILE else "police"
        for n, line in enumerate(lines[1:], start=1):
            # Only plain lines of the right width: the bad rows stay as the generator wrote.
            fields = line.rstrip("\r").split(",")
            if '"' in line or len(fields) != len(header) or rng.random() >= rate:
                continue
            row = dict(zip(header, fields, strict=True))
            if len(row[mother].strip()) != 18 or not row[mother].strip().isdigit():
                continue
            changes = {}
            second = int(rng.integers(3))
            if feed == "police" and rng.random() < 0.3:
                changes[mother] = ""
            else:
                changes[mother] = _id_typo(row[mother].strip(), rng)
            if second == 0 and sex_col:
                flip = {"男": "女", "女": "男", "1": "2", "2": "1", "M": "F", "F": "M"}
                if row[sex_col].strip() in flip:
                    changes[sex_col] = flip[row[sex_col].strip()]
            elif second <= 1 and row[date_col]:
                typo = _date_typo(row[date_col], rng)
                if typo:
                    changes[date_col] = typo
            elif row[division]:
                changes[division] = township(row[division].strip())
            for column, value in changes.items():
                errors.append({"feed": feed, "key": row[key].strip(), "field": column,
                               "written_value": value, "true_value": row[column]})  # fmt: skip
                row[column] = value
            lines[n] = ",".join(row[c] for c in header) + ("\r" if line.endswith("\r") else "")
        text = "\n".join(lines)
        path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    truth = out / "truth" / "misreports.parquet"
    field_names = {"产妇公民身份号码": "mother_id", "分娩时间": "birth_date", "新生儿性别": "sex",
                   "产妇户籍地区划代码": "division_code"}  # fmt: skip
    added = pl.DataFrame(errors, schema=dict.fromkeys(
        ["feed", "key", "field", "written_value", "true_value"], pl.String
    )).with_columns(pl.col("field").replace(field_names))  # fmt: skip
    pl.concat([pl.read_parquet(truth), added], how="vertical_relaxed").write_parquet(truth)
    return out


def run_with_peak(command: list[str], capture: bool) -> tuple[int, str, str, float, float]:
    """exit code, stdout, stderr, wall seconds, peak RSS in GiB of this child alone."""
    start = time.perf_counter()
    out = subprocess.PIPE if capture else subprocess.DEVNULL
    process = subprocess.Popen(command, stdout=out, stderr=subprocess.PIPE, text=True)
    stdout, stderr = "", ""
    if capture:
        stdout = process.stdout.read() if process.stdout else ""
    stderr = process.stderr.read() if process.stderr else ""
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - start
    return process.returncode, stdout, stderr, wall, usage.ru_maxrss / 2**20


def recon_side(inbox: Path, work: Path) -> tuple[dict[str, Any], pl.DataFrame]:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    truth = inbox / "truth"
    as_of = json.loads((truth / "manifest.json").read_text())["as_of"]
    db = work / "recon.duckdb"
    code, _, stderr, wall, peak = run_with_peak(
        [str(RECON), "run", "--inbox", str(inbox), "--db", str(db), "--out",
         str(work / "out"), "--as-of", as_of],
        capture=False,
    )  # fmt: skip
    if code != 0:
        raise SystemExit(f"recon run failed ({code}): {stderr[-2000:]}")
    summary = json.loads((work / "out" / "run.json").read_text(encoding="utf-8"))
    worklist = pl.read_csv(work / "out" / "worklist.csv", infer_schema=False)
    clusters = recon_clusters(db, worklist)
    scores = pairwise_f1(clusters, pl.read_parquet(truth / "records.parquet"))
    result = {
        "wall_s": round(wall, 1),
        "peak_rss_gib": round(peak, 2),
        "stages_s": summary["timings_s"],
        **scores,
    }
    return result, clusters


def baseline_side(
    inbox: Path, work: Path, memory_limit: str
) -> tuple[dict[str, Any], pl.DataFrame | None]:
    clusters_path = work / "splink-best-links.parquet"
    saved = work / "splink-best-links.json"
    if saved.exists() and clusters_path.exists():  # the baseline does not change with recon
        return json.loads(saved.read_text(encoding="utf-8")), pl.read_parquet(clusters_path)
    code, stdout, stderr, wall, peak = run_with_peak(
        [sys.executable, str(HERE / "splink_baseline.py"), "--inbox", str(inbox),
         "--memory-limit", memory_limit, "--clustering", "best-links",
         "--clusters-out", str(clusters_path)],
        capture=True,
    )  # fmt: skip
    if code != 0:  # a failure is a result too: say what it was
        lines = [ln for ln in stderr.splitlines() if ln.strip() and "nanobind" not in ln]
        failed = lines[-1] if lines else f"exit {code}"
        return {"failed": failed, "wall_s": round(wall, 1), "peak_rss_gib": round(peak, 2)}, None
    result: dict[str, Any] = json.loads(stdout)
    result["wall_s"] = round(wall, 1)
    result["peak_rss_gib"] = round(peak, 2)
    saved.write_text(json.dumps(result, indent=2, ensure_ascii=False), encoding="utf-8")
    return result, pl.read_parquet(clusters_path)


# --------------------------------------------------------------------------- explain


def _labelled(clusters: pl.DataFrame, truth: Path) -> pl.DataFrame:
    records = pl.read_parquet(truth / "records.parquet").filter(pl.col("quarantine").is_null())
    errors = (
        pl.read_parquet(truth / "misreports.parquet")
        .group_by("feed", "key")
        .agg(pl.col("field").unique().sort().str.join("+").alias("typos"))
    )
    births = pl.read_parquet(truth / "births.parquet").select(
        "birth_id", (pl.col("plurality") > 1).alias("twin")
    )
    return (
        records.select("feed", "key", "birth_id", "role")
        .join(errors, on=["feed", "key"], how="left")
        .join(births, on="birth_id", how="left")
        .with_columns((pl.col("feed") + ":" + pl.col("key")).alias("unique_id"))
        .join(
            clusters.select("unique_id", pl.col("cluster_id").cast(pl.String)),
            on="unique_id",
            how="left",
        )
        .with_columns(pl.coalesce("cluster_id", pl.lit("single:") + pl.col("unique_id")))
    )


def _pairs(labelled: pl.DataFrame, by: str) -> pl.DataFrame:
    cols = ["unique_id", "feed", "birth_id", "cluster_id", "role", "typos", "twin"]
    left = labelled.select(cols).drop_nulls(by)
    pairs = left.join(left, on=by, suffix="_r").filter(pl.col("feed") < pl.col("feed_r"))
    return pairs


def _kind(pairs: pl.DataFrame, slots: pl.DataFrame) -> pl.DataFrame:
    """One label per pair: feeds, typos on each side, twin/duplicate, slot taken."""

    def side(suffix: str) -> pl.Expr:
        return pl.col("feed" + suffix) + "[" + pl.col("typos" + suffix).fill_null("") + "]"

    return pairs.join(
        slots, left_on=["cluster_id", "feed_r"], right_on=["cluster_id", "feed"], how="left"
    ).select(
        pl.concat_str(
            [
                side(""),
                pl.lit("~"),
                side("_r"),
                pl.when(pl.col("twin").fill_null(False))
                .then(pl.lit(" twin"))
                .otherwise(pl.lit("")),
                pl.when((pl.col("role") == "duplicate") | (pl.col("role_r") == "duplicate"))
                .then(pl.lit(" dup"))
                .otherwise(pl.lit("")),
                pl.when(pl.col("taken").fill_null(False))
                .then(pl.lit(" slot-taken"))
                .otherwise(pl.lit("")),
            ]
        ).alias("kind"),
        "unique_id",
        "unique_id_r",
    )


def explain(clusters: pl.DataFrame, truth: Path, top: int = 25) -> dict[str, Any]:
    labelled = _labelled(clusters, truth)
    # a cluster already holding a record of that feed (the pair's right record lost its slot)
    slots = labelled.group_by("cluster_id", "feed").agg(pl.lit(True).alias("taken"))
    true_pairs = _pairs(labelled, "birth_id")
    fn = true_pairs.filter(pl.col("cluster_id") != pl.col("cluster_id_r"))
    clustered = _pairs(
        labelled.filter(~pl.col("cluster_id").str.starts_with("single:")), "cluster_id"
    )
    fp = clustered.filter((pl.col("birth_id") != pl.col("birth_id_r")).fill_null(True))
    no_slots = pl.DataFrame(
        schema={"cluster_id": pl.String, "feed": pl.String, "taken": pl.Boolean}
    )
    first = (pl.len(), pl.col("unique_id").first(), pl.col("unique_id_r").first())
    fn_kinds = _kind(fn, slots).group_by("kind").agg(*first)
    fp_kinds = _kind(fp, no_slots).group_by("kind").agg(*first)
    return {
        "false_negatives": fn.height,
        "false_positives": fp.height,
        "fn_kinds": fn_kinds.sort("len", descending=True).head(top).rows(),
        "fp_kinds": fp_kinds.sort("len", descending=True).head(top).rows(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--births", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--profile", nargs="+", default=["default"])
    parser.add_argument("--rate", action="append", default=[], help="feed.field=x")
    parser.add_argument("--inbox", type=Path, help="score this inbox instead of generating")
    parser.add_argument("--data", type=Path, default=HERE / "data")
    parser.add_argument("--baseline-memory", default="6GB")
    parser.add_argument("--skip-baseline", action="store_true")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--double-typos",
        type=float,
        default=0.0,
        metavar="RATE",
        help="also score a copy where RATE of hosp/police rows carry two errors",
    )
    args = parser.parse_args()
    args.data.mkdir(parents=True, exist_ok=True)
    (HERE / "results").mkdir(exist_ok=True)

    mixes = (
        [(args.inbox.name, args.inbox)]
        if args.inbox
        else [(p, generate(args.births, args.seed, p, args.data, args.rate)) for p in args.profile]
    )
    if args.double_typos:
        mixes = [(f"{p}-double{args.double_typos:g}", double_typos(i, args.double_typos,
                  args.seed)) for p, i in mixes]  # fmt: skip
    for profile, inbox in mixes:
        work = args.data / f"linkage-{args.births}-{args.seed}-{profile}"
        baseline_cache = [work / f"splink-best-links.{e}" for e in ("json", "parquet")]
        saved = {p: p.read_bytes() for p in baseline_cache if p.exists()}
        result: dict[str, Any] = {"births": args.births, "seed": args.seed, "profile": profile,
                                  "rates": args.rate, "inbox": str(inbox)}  # fmt: skip
        result["recon"], clusters = recon_side(inbox, work)  # a new work folder
        for path, content in saved.items():
            path.write_bytes(content)
        if args.explain:
            result["recon_misses"] = explain(clusters, inbox / "truth")
        if not args.skip_baseline:
            result["splink_best_links"], base = baseline_side(inbox, work, args.baseline_memory)
            if args.explain and base is not None:
                result["splink_misses"] = explain(base, inbox / "truth")
        name = f"linkage-{args.births}-{profile}" if not args.inbox else f"linkage-{profile}"
        out = HERE / "results" / f"{name}.json"
        out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        run = result["recon"]
        print(f"[{profile}] recon run  {run['wall_s']:>6}s peak {run['peak_rss_gib']} GiB  "
              f"P {run['precision']} R {run['recall']} F1 {run['f1']}")  # fmt: skip
        base_result = result.get("splink_best_links")
        if base_result and "failed" in base_result:
            print(f"[{profile}] splink best-links failed: {base_result['failed']}")
        elif base_result:
            print(f"[{profile}] splink best-links {base_result['wall_s']:>6}s peak "
                  f"{base_result['peak_rss_gib']} GiB  P {base_result['precision']} "
                  f"R {base_result['recall']} F1 {base_result['f1']}")  # fmt: skip
        if args.explain:
            for side in ("recon_misses", "splink_misses"):
                if side in result:
                    m = result[side]
                    print(f"  {side}: FN {m['false_negatives']} FP {m['false_positives']}")
                    for label in ("fn_kinds", "fp_kinds"):
                        print(f"   {label}:")
                        for kind, n, a, b in m[label][:15]:
                            print(f"    {n:>5}  {kind}   e.g. {a} ~ {b}")
        print(f"written to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
