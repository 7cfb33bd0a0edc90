"""Pair scoring: the seed's matching tiers (E2) over arrays of candidate pairs.

A pair is a match only if the first names agree *and* one more independent field backs it.
First names agree when they are equal, a known nickname pair (``bob``/``robert``), or within
``first_name_max_edits`` edits (optimal string alignment, so ``benjmain`` is one edit from
``benjamin``; names of 4+ letters only, one edit more from ``long_first_name`` letters), and
never when both middle initials are present and differ. Two *known* names (both in the
nickname list) one letter apart are usually two people (``mary``/``mark``), so between known
names only one edit in names of 6+ letters counts (``jeffery``/``jeffrey``).

=====  ==========  ==========================================================================
tier   confidence  rule (after the first-name gate)
=====  ==========  ==========================================================================
1      100         ``exact_email``, or ``exact_phone`` (E.164)
2      90          ``name_zip``: first (or nickname) + last + ZIP equal, or
                   ``name_phone7``: first + last + last 7 phone digits equal
3      70          ``fuzzy_name_address``: name distance <= 2 and address similarity >= 80,
                   or ``email_domain_name``: same non-free email domain and name
                   similarity >= 85
=====  ==========  ==========================================================================

Tiers 2 and 3 rest on the name, so they are vetoed when the records contradict each other on
more than ``max_conflicts`` of street, email and phone (both present, different): the
gate plus the veto keep household members (same surname, address and phone, other first
names) and different people sharing a name and a ZIP apart. An exact email or phone is never
vetoed. Name distance and similarity count nickname pairs as equal first names.

Every pair also gets a 0-100 ``score``, the sum of four parts a person can read:
``name`` (first name 20, or 12 when only within edits; last name 20 minus 7 per edit),
``email`` (20 equal, 5 same non-free domain), ``phone`` (20 equal, 14 same last 7 digits)
and ``address`` (20 x street + ZIP similarity / 100, or 5 for the same ZIP when a street is
missing). The parts also carry the first-name rule, name distance and the similarities.

Vectorization: equality tests are integer comparisons of per-field dictionary codes; string
metrics run through ``rapidfuzz.process.cpdist`` once per *distinct* pair of values (first
and last names come from small dictionaries), and only for pairs that still need them: the
first-name gate removes most candidates before any address is compared.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA, Levenshtein

from dedup_ray.arrays import sorted_unique, unique_inverse
from dedup_ray.normalize import nickname_table
from dedup_ray.settings import DedupSettings

I64 = npt.NDArray[np.int64]

REASONS: tuple[str, ...] = (
    "no_match",
    "exact_email",
    "exact_phone",
    "name_zip",
    "name_phone7",
    "fuzzy_name_address",
    "email_domain_name",
)
CONFIDENCE = {1: 100, 2: 90, 3: 70}
FIRST_NAME_RULES: tuple[str, ...] = ("none", "exact", "nickname", "edits")
_FIELDS = (
    "first",
    "last",
    "middle_initial",
    "email",
    "email_domain",
    "phone",
    "phone7",
    "zip5",
    "street",
    "address",
)
_MIN_LEN_FOR_EDITS = 4
_MIN_LEN_KNOWN_EDITS = 6
#: First-name similarity (same initial) at which the chain guard still sees one person
#: behind a typo the gate does not forgive (``jefery``/``jeff``, ``rebcca``/``rebeccao``).
_CLOSE_FIRST_NAME = 70.0

PARTS_TYPE = pa.struct(
    [
        ("name", pa.float64()),
        ("email", pa.float64()),
        ("phone", pa.float64()),
        ("address", pa.float64()),
        ("first_name", pa.string()),
        ("name_distance", pa.int16()),
        ("name_similarity", pa.float64()),
        ("address_similarity", pa.float64()),
    ]
)


@dataclass
class ScoringFrame:
    """Per-record comparison data, built once per run from the normalised table.

    Attributes:
        codes: per field, each record's index into `values` (-1 for null).
        values: per field, the distinct values.
        nicknames: sorted ``a * len(values['first']) + b`` codes of related first names.
        free_domain: per ``email_domain`` value, whether it is a free-mail domain.
        first_len: per ``first`` value, its length.
        last_len: per ``last`` value, its length.
        first_initial: per ``first`` value, a code of its first letter.
        known_first: per ``first`` value, whether it is a name of the nickname list.
    """

    codes: dict[str, npt.NDArray[np.int32]]
    values: dict[str, pa.Array]
    nicknames: I64
    free_domain: npt.NDArray[np.bool_]
    first_len: npt.NDArray[np.int32] = field(repr=False)
    last_len: npt.NDArray[np.int32] = field(repr=False)
    first_initial: npt.NDArray[np.int32] = field(repr=False)
    known_first: npt.NDArray[np.bool_] = field(repr=False)

    @property
    def size(self) -> int:
        """Number of records."""
        return len(self.codes["first"])


def scoring_frame(norm: pa.Table, settings: DedupSettings) -> ScoringFrame:
    """Dictionary-encode the compared fields of a normalised table.

    Args:
        norm: output of `dedup_ray.normalize.normalize`.
        settings: for the free-mail domain list.
    """
    codes: dict[str, npt.NDArray[np.int32]] = {}
    values: dict[str, pa.Array] = {}
    for name in _FIELDS:
        enc = pc.dictionary_encode(norm.column(name).combine_chunks())
        codes[name] = pc.fill_null(enc.indices, -1).to_numpy().astype(np.int32)
        values[name] = enc.dictionary
    _, relation = nickname_table()
    first_values = values["first"]
    a = pc.fill_null(pc.index_in(relation.column("a"), value_set=first_values), -1).to_numpy()
    b = pc.fill_null(pc.index_in(relation.column("b"), value_set=first_values), -1).to_numpy()
    ok = (a >= 0) & (b >= 0)
    nick = sorted_unique(a[ok].astype(np.int64) * max(1, len(first_values)) + b[ok])
    free = pc.is_in(values["email_domain"], value_set=pa.array(settings.free_email_domains))
    return ScoringFrame(
        codes=codes,
        values=values,
        nicknames=nick,
        free_domain=np.asarray(free.to_numpy(zero_copy_only=False), dtype=np.bool_),
        first_len=_lengths(first_values),
        last_len=_lengths(values["last"]),
        first_initial=pc.dictionary_encode(pc.utf8_slice_codeunits(first_values, 0, 1))
        .indices.to_numpy(zero_copy_only=False)
        .astype(np.int32),
        known_first=np.asarray(
            pc.is_in(first_values, value_set=relation.column("a")).to_numpy(zero_copy_only=False),
            dtype=np.bool_,
        ),
    )


def _lengths(values: pa.Array) -> npt.NDArray[np.int32]:
    return pc.utf8_length(values).to_numpy(zero_copy_only=False).astype(np.int32)


def _mean_len(
    lengths: npt.NDArray[np.int32], a: npt.NDArray[np.int32], b: npt.NDArray[np.int32]
) -> npt.NDArray[np.float64]:
    """Mean length of two values per pair (0 where either is missing)."""
    ok = (a >= 0) & (b >= 0)
    out = np.zeros(len(a), dtype=np.float64)
    out[ok] = (lengths[a[ok]] + lengths[b[ok]]) / 2.0
    return out


class _Pairs:
    """Code lookups for one array of pairs."""

    def __init__(self, frame: ScoringFrame, left: I64, right: I64, workers: int) -> None:
        self.frame, self.left, self.right, self.workers = frame, left, right, workers

    def codes(self, name: str) -> tuple[npt.NDArray[np.int32], npt.NDArray[np.int32]]:
        c = self.frame.codes[name]
        return c[self.left], c[self.right]

    def equal(self, name: str) -> npt.NDArray[np.bool_]:
        a, b = self.codes(name)
        return (a == b) & (a >= 0)

    def both(self, name: str) -> npt.NDArray[np.bool_]:
        a, b = self.codes(name)
        return (a >= 0) & (b >= 0)

    def metric(
        self, name: str, where: npt.NDArray[np.bool_], scorer: object, cutoff: float | None
    ) -> npt.NDArray[np.float64]:
        """`scorer` on pairs `where` (both present, values differ); NaN elsewhere.

        Each distinct (value, value) pair is compared once.
        """
        out = np.full(len(self.left), np.nan)
        a, b = self.codes(name)
        sel = np.flatnonzero(where)
        if sel.size == 0:
            return out
        width = max(1, len(self.frame.values[name]))
        lo = np.minimum(a[sel], b[sel]).astype(np.int64)
        hi = np.maximum(a[sel], b[sel]).astype(np.int64)
        uniq, inverse = unique_inverse(lo * width + hi)
        dictionary = self.frame.values[name]
        sa = dictionary.take(pa.array(uniq // width)).to_pylist()
        sb = dictionary.take(pa.array(uniq % width)).to_pylist()
        got = process.cpdist(sa, sb, scorer=scorer, score_cutoff=cutoff, workers=self.workers)
        out[sel] = np.asarray(got, dtype=np.float64)[inverse]
        return out


def score_pairs(
    frame: ScoringFrame,
    left: I64,
    right: I64,
    settings: DedupSettings,
    accepted_only: bool = False,
) -> pa.Table:
    """Tier, confidence, score and score parts of each pair of rows.

    Args:
        frame: `scoring_frame` of the table the rows index.
        left: row of one record of each pair.
        right: row of the other.
        settings: tier thresholds.
        accepted_only: drop pairs that match no tier.

    Returns:
        Columns ``left``, ``right``, ``tier`` (0 = no match), ``reason``, ``confidence``,
        ``score`` (0-100), ``first_agree`` (the gate), ``first_close`` (the gate, or the same
        initial and a similar spelling; for the chain guard) and ``parts`` (`PARTS_TYPE`).
    """
    left = np.asarray(left, dtype=np.int64)
    right = np.asarray(right, dtype=np.int64)
    p = _Pairs(frame, left, right, settings.workers)
    n = len(left)

    fa, fb = p.codes("first")
    both_first = p.both("first")
    first_exact = p.equal("first")
    width = max(1, len(frame.values["first"]))
    nick = ~first_exact & both_first
    nick[nick] = np.isin(fa[nick].astype(np.int64) * width + fb[nick], frame.nicknames)
    shorter = np.zeros(n, dtype=np.int32)
    shorter[both_first] = np.minimum(
        frame.first_len[fa[both_first]], frame.first_len[fb[both_first]]
    )
    allowed = settings.first_name_max_edits + (shorter >= settings.long_first_name)
    # Two real names one letter apart are usually two people (mary/mark, john/joan): between
    # known names only a single edit in names of 6+ letters counts (jeffery/jeffrey).
    both_known = np.zeros(n, dtype=np.bool_)
    both_known[both_first] = frame.known_first[fa[both_first]] & frame.known_first[fb[both_first]]
    allowed = np.where(both_known, np.where(shorter >= _MIN_LEN_KNOWN_EDITS, 1, 0), allowed)
    need = both_first & ~first_exact & ~nick & (shorter >= _MIN_LEN_FOR_EDITS)
    first_dist = p.metric("first", need, OSA.distance, settings.first_name_max_edits + 2)
    edits = need & (first_dist <= allowed)
    mid_conflict = p.both("middle_initial") & ~p.equal("middle_initial")
    first_named = first_exact | nick
    gate = (first_named | edits) & ~mid_conflict

    last_exact = p.equal("last")
    need = gate & ~last_exact & p.both("last")
    last_dist = np.where(last_exact, 0.0, np.nan)
    last_dist[need] = p.metric("last", need, Levenshtein.distance, settings.name_max_edits + 1)[
        need
    ]
    last_sim = np.where(last_exact, 100.0, np.nan)
    last_sim[need] = p.metric("last", need, fuzz.ratio, None)[need]
    first_sim = np.where(first_named, 100.0, np.nan)
    first_sim[edits] = p.metric("first", edits, fuzz.ratio, None)[edits]
    same_initial = both_first & ~gate & ~mid_conflict
    same_initial[same_initial] = (
        frame.first_initial[fa[same_initial]] == frame.first_initial[fb[same_initial]]
    )
    close_sim = p.metric("first", same_initial, fuzz.ratio, None)
    first_close = gate | (same_initial & (close_sim >= _CLOSE_FIRST_NAME))
    # Full-name distance and similarity with nicknames counted as equal first names; from
    # the (small) first and last name dictionaries instead of per-pair name strings.
    name_dist = np.where(first_named, 0.0, first_dist) + last_dist
    lf = _mean_len(frame.first_len, fa, fb)
    ll = _mean_len(frame.last_len, *p.codes("last"))
    name_sim = (lf * first_sim + ll * last_sim) / np.maximum(lf + ll, 1.0)

    streets = p.both("street")
    addr_equal = p.equal("address") & streets
    addr_sim = np.where(addr_equal, 100.0, np.nan)
    need = gate & streets & ~addr_equal
    addr_sim[need] = p.metric("address", need, fuzz.ratio, None)[need]

    email_eq = p.equal("email")
    phone_eq = p.equal("phone")
    phone7_eq = p.equal("phone7")
    zip_eq = p.equal("zip5")
    da, _ = p.codes("email_domain")
    domain_eq = p.equal("email_domain")
    domain_eq[domain_eq] = ~frame.free_domain[da[domain_eq]]

    with np.errstate(invalid="ignore"):
        conflicts = (
            (p.both("email") & ~email_eq).astype(np.int8)
            + (p.both("phone") & ~phone_eq & ~phone7_eq)
            + (addr_sim < settings.address_conflict_below)
        )
        named = gate & (conflicts <= settings.max_conflicts)
        rules = [
            gate & email_eq,
            gate & phone_eq,
            named & first_named & last_exact & zip_eq,
            named & first_named & last_exact & phone7_eq,
            named
            & (name_dist <= settings.name_max_edits)
            & (addr_sim >= settings.address_min_similarity),
            named & domain_eq & (name_sim >= settings.domain_name_min_similarity),
        ]
    reason = np.zeros(n, dtype=np.int8)
    for code in range(len(rules), 0, -1):
        reason[rules[code - 1]] = code
    tier = np.array([0, 1, 1, 2, 2, 3, 3], dtype=np.int8)[reason]
    confidence = np.array([0, *CONFIDENCE.values()], dtype=np.int8)[tier]

    first_pts = np.where(first_named, 20.0, np.where(edits, 12.0, 0.0))
    last_pts = np.where(np.isnan(last_dist), 0.0, np.maximum(0.0, 20.0 - 7.0 * last_dist))
    name_pts = first_pts + last_pts
    email_pts = np.where(email_eq, 20.0, np.where(domain_eq, 5.0, 0.0))
    phone_pts = np.where(phone_eq, 20.0, np.where(phone7_eq, 14.0, 0.0))
    addr_pts = np.where(np.isnan(addr_sim), np.where(zip_eq, 5.0, 0.0), addr_sim / 5.0)
    score = np.round(name_pts + email_pts + phone_pts + addr_pts, 2)

    first_rule = np.where(first_exact, 1, np.where(nick, 2, np.where(edits, 3, 0)))
    table = pa.table(
        {
            "left": left,
            "right": right,
            "tier": tier,
            "reason": pa.DictionaryArray.from_arrays(
                pa.array(reason.astype(np.int8)), pa.array(REASONS)
            ),
            "confidence": confidence.astype(np.int8),
            "score": score,
            "first_agree": gate,
            "first_close": first_close,
            "parts": pa.StructArray.from_arrays(
                [
                    pa.array(name_pts),
                    pa.array(email_pts),
                    pa.array(phone_pts),
                    pa.array(np.round(addr_pts, 2)),
                    pc.take(pa.array(FIRST_NAME_RULES), pa.array(first_rule)),
                    pa.array(name_dist, pa.float64(), from_pandas=True).cast(pa.int16()),
                    pa.array(np.round(name_sim, 2), pa.float64(), from_pandas=True),
                    pa.array(np.round(addr_sim, 2), pa.float64(), from_pandas=True),
                ],
                fields=list(PARTS_TYPE),
            ),
        }
    )
    return table.filter(pa.array(tier > 0)) if accepted_only else table


def passes_chain_guard(scored: pa.Table, settings: DedupSettings) -> npt.NDArray[np.bool_]:
    """Whether each scored (golden, member) pair keeps the member in the golden's cluster.

    A member stays when it matches the golden record by a tier itself, or when their first
    names are close (the gate, or the same initial and a similar spelling) and the pair
    scores at least ``chain_min_score``. Household members (other first names) and people
    reached only through a chain of partial matches are split off.
    """
    tier = scored.column("tier").to_numpy()
    close = scored.column("first_close").to_numpy(zero_copy_only=False)
    score = scored.column("score").to_numpy()
    return (tier > 0) | (close & (score >= settings.chain_min_score))
