"""Synthetic US people with known duplicates, for tests, benchmarks and demos.

Entities are drawn from Faker's US name frequencies; a quarter live in a household with
another entity (same surname, street, ZIP and often phone, a different first name), some
share a surname and ZIP with a stranger, and about a third have more than one record. A
duplicate record is a perturbed copy of its entity: nicknames, typos, dropped middle names,
missing or changed email and phone, abbreviated, misspelt, missing or moved addresses.

Everything is built column-wise with numpy and pyarrow (names are drawn as indices into
small vocabularies; typos are precomputed per vocabulary word), so a million rows take
seconds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

_SUFFIXES = [
    ("Street", "St"),
    ("Avenue", "Ave"),
    ("Road", "Rd"),
    ("Drive", "Dr"),
    ("Lane", "Ln"),
    ("Court", "Ct"),
    ("Boulevard", "Blvd"),
    ("Place", "Pl"),
    ("Way", "Way"),
    ("Terrace", "Ter"),
]
_FREE_DOMAINS = ["gmail.com", "yahoo.com", "hotmail.com", "outlook.com", "aol.com", "icloud.com"]
_STATES = ["TX", "CA", "NY", "FL", "IL", "PA", "OH", "GA", "NC", "MI", "WA", "AZ", "MA", "CO"]
_ALPHABET = np.array(list("abcdefghijklmnopqrstuvwxyz"))


def _vocab() -> tuple[list[str], npt.NDArray[np.float64], list[str], npt.NDArray[np.float64]]:
    from faker.providers.person.en_US import Provider

    firsts = {**Provider.first_names_male, **Provider.first_names_female}
    lasts = dict(Provider.last_names)
    fw = np.array(list(firsts.values()), dtype=np.float64)
    lw = np.array(list(lasts.values()), dtype=np.float64)
    return list(firsts), fw / fw.sum(), list(lasts), lw / lw.sum()


def _typos(words: list[str], rng: np.random.Generator, per_word: int = 3) -> list[list[str]]:
    """A few one-edit variants of each vocabulary word (small vocabularies only)."""
    out = []
    for w in words:
        variants = []
        for _ in range(per_word):
            if len(w) < 3:
                variants.append(w)
                continue
            i = int(rng.integers(1, len(w)))
            c = str(rng.choice(_ALPHABET))
            kind = int(rng.integers(3))
            if kind == 0:
                v = w[:i] + w[i + 1 :]
            elif kind == 1:
                v = w[:i] + c + w[i + 1 :]
            else:
                v = w[: i - 1] + w[i] + w[i - 1] + w[i + 1 :]
            variants.append(v if v != w else w + c)
        out.append(variants)
    return out


def _nickname_of(names: list[str]) -> list[str]:
    """One common nickname per first name (itself when it has none)."""
    from nicknames import NickNamer

    nn = NickNamer()
    out = []
    for name in names:
        nicks = sorted(nn.nicknames_of(name.lower()))
        out.append(nicks[0].capitalize() if nicks else name)
    return out


def _take(vocab: list[str], idx: npt.NDArray[np.int64]) -> pa.Array:
    return pc.take(pa.array(vocab, pa.string()), pa.array(idx))


def _join(*parts: pa.Array | str, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def _str(values: npt.NDArray[np.int64]) -> pa.Array:
    return pa.array(values).cast(pa.string())


def _null_where(arr: pa.Array, mask: npt.NDArray[np.bool_]) -> pa.Array:
    return pc.if_else(pa.array(mask), pa.scalar(None, arr.type), arr)


def _pick(mask: npt.NDArray[np.bool_], a: pa.Array, b: pa.Array) -> pa.Array:
    return pc.if_else(pa.array(mask), a, b)


def synthetic_people(
    n_rows: int,
    seed: int = 0,
    duplicate_share: float = 0.3,
    household_share: float = 0.25,
    stranger_share: float = 0.05,
) -> tuple[pa.Table, npt.NDArray[np.int64]]:
    """People rows in `dedup_ray.run`'s input schema and the true entity of each row.

    Args:
        n_rows: rows to produce (exactly).
        seed: random seed; the same seed gives the same table.
        duplicate_share: share of entities with more than one record.
        household_share: share of entities living with another entity.
        stranger_share: share of entities given the surname and ZIP of an unrelated entity.

    Returns:
        ``(people, entity)``: ids are ``1..n_rows`` in random order of entities.
    """
    rng = np.random.default_rng(seed)
    firsts, fw, lasts, lw = _vocab()
    nick = _nickname_of(firsts)
    first_typos = _typos([f.lower() for f in firsts], rng)
    last_typos = _typos([s.lower() for s in lasts], rng)
    street_words = sorted({*lasts[:300], *firsts[:100]})
    street_typos = _typos([w.lower() for w in street_words], rng)

    # Entities.
    extra = rng.geometric(0.55, size=n_rows) * (rng.random(n_rows) < duplicate_share)
    extra = np.minimum(extra, 4)
    cum = np.cumsum(1 + extra)
    n_ent = int(np.searchsorted(cum, n_rows) + 1)
    copies = (1 + extra[:n_ent]).copy()
    copies[-1] -= int(cum[n_ent - 1] - n_rows)
    e_first = rng.choice(len(firsts), n_ent, p=fw)
    e_middle = np.where(rng.random(n_ent) < 0.5, rng.choice(len(firsts), n_ent, p=fw), -1)
    e_last = rng.choice(len(lasts), n_ent, p=lw)
    n_zip = max(20, n_ent // 250)
    zips = rng.choice(np.arange(10000, 99999), n_zip, replace=False)
    e_zip = rng.integers(0, n_zip, n_ent)
    e_num = rng.integers(1, 9999, n_ent)
    e_street = rng.integers(0, len(street_words), n_ent)
    e_suffix = rng.integers(0, len(_SUFFIXES), n_ent)
    e_phone = rng.integers(2_000_000_000, 9_999_999_999, n_ent)
    e_mailno = rng.integers(1, 999, n_ent)
    e_domain = np.where(
        rng.random(n_ent) < 0.7,
        rng.integers(0, len(_FREE_DOMAINS), n_ent),
        len(_FREE_DOMAINS) + rng.integers(0, max(10, n_ent // 50), n_ent),
    )

    # Households: copy surname, address and often the phone of a "head" entity.
    member = rng.random(n_ent) < household_share
    head = rng.integers(0, n_ent, n_ent)
    member &= head != np.arange(n_ent)
    for arr in (e_last, e_zip, e_num, e_street, e_suffix):
        arr[member] = arr[head[member]]
    shared_phone = member & (rng.random(n_ent) < 0.6)
    e_phone[shared_phone] = e_phone[head[shared_phone]]
    shared_mail = member & (rng.random(n_ent) < 0.1)
    e_mailno[shared_mail] = e_mailno[head[shared_mail]]
    e_domain[shared_mail] = e_domain[head[shared_mail]]
    home = np.where(member, head, np.arange(n_ent))
    while True:
        # No two people of one household share a first name.
        pair = home.astype(np.int64) * len(firsts) + e_first
        _, first_seen, counts = np.unique(pair, return_index=True, return_counts=True)
        clash = member & (counts[np.searchsorted(np.unique(pair), pair)] > 1)
        clash[first_seen] = False
        clash |= member & (e_first == e_first[head])
        if not clash.any():
            break
        e_first[clash] = (e_first[clash] + 1) % len(firsts)
    e_mail_first = e_first.copy()
    e_mail_first[shared_mail] = e_first[head[shared_mail]]
    # Strangers: surname and ZIP of an unrelated entity, everything else their own.
    stranger = ~member & (rng.random(n_ent) < stranger_share)
    other = rng.integers(0, n_ent, n_ent)
    e_last[stranger] = e_last[other[stranger]]
    e_zip[stranger] = e_zip[other[stranger]]

    # Records.
    ent = np.repeat(np.arange(n_ent), copies)
    n = ent.size
    dup = np.r_[False, ent[1:] == ent[:-1]]
    r = rng.random((16, n))

    first_idx = e_first[ent]
    first = _take(firsts, first_idx)
    first = _pick(dup & (r[0] < 0.15), _take(nick, first_idx), first)
    typo_first = pa.array([v for vs in first_typos for v in vs], pa.string())
    first = _pick(
        dup & (r[1] < 0.08),
        pc.take(typo_first, pa.array(first_idx * 3 + (r[2] * 3).astype(int))),
        first,
    )
    first = _pick(dup & (r[3] < 0.05), pc.utf8_upper(first), first)

    last_idx = e_last[ent]
    last = _take(lasts, last_idx)
    typo_last = pa.array([v for vs in last_typos for v in vs], pa.string())
    last = _pick(
        dup & (r[4] < 0.06),
        pc.take(typo_last, pa.array(last_idx * 3 + (r[2] * 3).astype(int))),
        last,
    )

    mid_idx = e_middle[ent]
    middle = _take(firsts, np.maximum(mid_idx, 0))
    middle = _pick(dup & (r[5] < 0.3), pc.utf8_slice_codeunits(middle, 0, 1), middle)
    middle = _null_where(middle, (mid_idx < 0) | (dup & (r[5] > 0.8)))

    moved = dup & (r[6] < 0.08)
    num = np.where(moved, rng.integers(1, 9999, n), e_num[ent])
    s_idx = np.where(moved, rng.integers(0, len(street_words), n), e_street[ent])
    suf = np.where(moved, rng.integers(0, len(_SUFFIXES), n), e_suffix[ent])
    zip_idx = np.where(moved, rng.integers(0, n_zip, n), e_zip[ent])
    sname = _take(street_words, s_idx)
    typo_street = pa.array([v for vs in street_typos for v in vs], pa.string())
    sname = _pick(
        dup & (r[7] < 0.08),
        pc.take(typo_street, pa.array(s_idx * 3 + (r[2] * 3).astype(int))),
        sname,
    )
    long_suffix = _take([s[0] for s in _SUFFIXES], suf)
    short_suffix = _take([s[1] for s in _SUFFIXES], suf)
    street = _join(_str(num), sname, _pick(r[8] < 0.5, long_suffix, short_suffix), sep=" ")
    street = _null_where(street, dup & (r[9] < 0.12))
    zip5 = _take([str(z) for z in zips], zip_idx)
    city = _take([f"City{z % 997}" for z in zips], zip_idx)
    state = _take([_STATES[z % len(_STATES)] for z in zips], zip_idx)

    domains = _FREE_DOMAINS + [f"corp{i}.com" for i in range(max(10, n_ent // 50))]
    mailno = np.where(dup & (r[10] < 0.08), rng.integers(1000, 9999, n), e_mailno[ent])
    dom = np.where(dup & (r[10] < 0.08), rng.integers(0, len(_FREE_DOMAINS), n), e_domain[ent])
    email = _join(
        pc.utf8_lower(_take(firsts, e_mail_first[ent])),
        ".",
        pc.utf8_lower(_take(lasts, e_last[ent])),
        _str(mailno),
        "@",
        _take(domains, dom),
    )
    email = _pick(dup & (r[11] < 0.1), pc.utf8_upper(email), email)
    email = _null_where(email, dup & (r[12] < 0.25))
    phone_no = np.where(
        dup & (r[13] < 0.08), rng.integers(2_000_000_000, 9_999_999_999, n), e_phone[ent]
    )
    phone = _null_where(_join("+1", _str(phone_no)), dup & (r[14] < 0.25))

    base = np.datetime64("2015-01-01T00:00:00", "s").astype(np.int64)
    updated = (base + rng.integers(0, 10 * 365 * 86400, n)) * 1_000_000
    order = rng.permutation(n)
    table = pa.table(
        {
            "id": pa.array(np.arange(1, n + 1, dtype=np.int64)),
            "first_name": first.take(order),
            "middle_name": middle.take(order),
            "last_name": last.take(order),
            "email": email.take(order),
            "phone_e164": phone.take(order),
            "street": street.take(order),
            "city": city.take(order),
            "state": state.take(order),
            "zip5": zip5.take(order),
            "source_updated_at": pa.array(updated[order], pa.timestamp("us", tz="UTC")),
            "manual_override": pa.array(r[15][order] < 0.005),
            "email_verified": pa.array(rng.random(n) < 0.3),
            "phone_verified": pa.array(rng.random(n) < 0.3),
            "is_original": pa.array(np.ones(n, dtype=np.bool_)),
        }
    )
    return table, ent[order].astype(np.int64)


def true_pairs(entity: npt.NDArray[np.int64]) -> tuple[npt.NDArray[np.int64], ...]:
    """All (row, row) pairs of records of the same entity, ``left < right``."""
    from dedup_ray.blocking import all_pairs

    order = np.argsort(entity, kind="stable")
    sorted_ent = entity[order]
    starts = np.flatnonzero(np.r_[True, sorted_ent[1:] != sorted_ent[:-1]])
    sizes = np.diff(np.r_[starts, entity.size])
    li, ri = all_pairs(starts, sizes)
    left, right = order[li], order[ri]
    return np.minimum(left, right), np.maximum(left, right)


def pairwise_accuracy(golden: npt.NDArray[np.int64],
                      entity: npt.NDArray[np.int64]) -> dict[str, float | int]:
    """Pairwise precision, recall and F1 of cluster labels against the true entities.

    Args:
        golden: each record's cluster label (its golden id), in the rows' order.
        entity: each record's true person, in the same order.
    """

    def codes(labels: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
        left, right = true_pairs(labels)
        return np.sort(left * len(labels) + right)

    found, truth = codes(golden), codes(entity)
    hits = int(np.isin(found, truth, assume_unique=True).sum())
    precision = hits / max(1, found.size)
    recall = hits / max(1, truth.size)
    return {
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(2 * precision * recall / max(1e-12, precision + recall), 4),
        "true_pairs": int(truth.size),
        "found_pairs": int(found.size),
    }
