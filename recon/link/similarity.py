"""DuckDB's string functions, for an engine that lacks them (Spark).

The model's comparisons call DuckDB's `jaro_winkler_similarity`, `hamming` and
`damerau_levenshtein`. Spark has none of them, and Splink's Spark jar computes a
Jaro-Winkler that differs from DuckDB's (by up to 0.14 on pinyin names), which moves
pairs across the model's 0.9 threshold. rapidfuzz's Distance module computes Hamming and
Damerau-Levenshtein as DuckDB does; its Jaro-Winkler differs from DuckDB's in the last bits
(the sum is taken in another order), which is enough to move a pair sitting on 0.9. So
Jaro-Winkler is hand-written here: DuckDB's algorithm (rapidfuzz-cpp's, vendored into
DuckDB) step for step, on the UTF-8 bytes as DuckDB reads them, with its floating-point
operations in its order. DuckDB's build fuses the Winkler step's multiply and add (one
rounding, not two): `_fma` does the same.
"""

from __future__ import annotations

from rapidfuzz.distance import DamerauLevenshtein, Hamming

PREFIX_WEIGHT = 0.1  # DuckDB's jaro_winkler_similarity, Winkler's standard weight
BOOST_THRESHOLD = 0.7


def jaro(p: bytes, t: bytes) -> float:
    """DuckDB's jaro_similarity of two byte strings (p the first argument)."""
    p_len, t_len = len(p), len(t)
    if not p_len or not t_len:
        return 0.0
    if p_len == 1 and t_len == 1:
        return float(p[0] == t[0])
    bound = (t_len // 2 - 1) if t_len > p_len else (p_len // 2 - 1)
    prefix = 0
    for a, b in zip(p, t, strict=False):
        if a != b:
            break
        prefix += 1
    p_rest, t_rest = p[prefix:], t[prefix:]
    # Each byte of t, in order, takes the first unflagged equal byte of p within the window.
    p_flag = [False] * len(p_rest)
    t_flagged: list[int] = []
    for j, byte in enumerate(t_rest):
        for i in range(max(0, j - bound), min(len(p_rest), j + bound + 1)):
            if not p_flag[i] and p_rest[i] == byte:
                p_flag[i] = True
                t_flagged.append(j)
                break
    common = prefix + len(t_flagged)
    if not common:
        return 0.0
    p_flagged = [i for i, flagged in enumerate(p_flag) if flagged]
    transpositions = sum(p_rest[i] != t_rest[j] for i, j in zip(p_flagged, t_flagged, strict=True))
    transpositions //= 2
    sim = 0.0
    sim += common / p_len
    sim += common / t_len
    sim += (common - transpositions) / common
    return sim / 3.0


def _fma(x: float, y: float, z: float) -> float:
    """x * y + z rounded once, as a fused multiply-add (math.fma is Python 3.13's).

    Exact in integers (a float is an integer over a power of two), then one division,
    which Python rounds correctly."""
    xn, xd = x.as_integer_ratio()
    yn, yd = y.as_integer_ratio()
    zn, zd = z.as_integer_ratio()
    return (xn * yn * zd + zn * xd * yd) / (xd * yd * zd)


def jaro_winkler(left: str | None, right: str | None) -> float | None:
    """DuckDB's jaro_winkler_similarity(left, right); None where either is None."""
    if left is None or right is None:
        return None
    p, t = left.encode("utf-8"), right.encode("utf-8")
    prefix = 0
    for a, b in zip(p[:4], t[:4], strict=False):
        if a != b:
            break
        prefix += 1
    sim = jaro(p, t)
    if sim > BOOST_THRESHOLD:
        sim = _fma(prefix * PREFIX_WEIGHT, 1.0 - sim, sim)
    return sim


def hamming(left: str | None, right: str | None) -> int | None:
    """DuckDB's hamming; None where either is None or the lengths differ (DuckDB raises
    there, and the model asks only of equal lengths; Spark may evaluate it anyway)."""
    if left is None or right is None or len(left) != len(right):
        return None
    return int(Hamming.distance(left, right))


def damerau_levenshtein(left: str | None, right: str | None) -> int | None:
    """DuckDB's damerau_levenshtein (unrestricted: a swap may be edited again)."""
    if left is None or right is None:
        return None
    return int(DamerauLevenshtein.distance(left, right))
