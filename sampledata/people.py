"""The person population: names at real US frequencies, places, households and namesakes.

People are drawn in vectorised batches (index arrays into name and place tables, never one
Python object per person) so that tens of millions can stream through the legacy writers.
Names come from Faker's en_US tables, which carry census-derived weights: Smith is common
and so is James, so distinct people share a name within a ZIP as they do in real data. Two
kinds of hard non-matches are planted on purpose, because without them every matcher
looks good: households (same surname and address, different first names) and namesakes
(same first and last name in the same ZIP, a different street).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from faker.providers.person.en_US import Provider as FakerPerson

from sampledata import geography

SUFFIXES = ("", "Jr", "Sr", "II", "III")
"""Generational suffixes as people write them; index 0 means none."""
_SUFFIX_P = (0.95, 0.03, 0.01, 0.006, 0.004)
_EPOCH_2012 = 1_325_376_000
_EPOCH_2024 = 1_704_067_200


@dataclass(frozen=True)
class NameTables:
    """First and last names with their census weights, as Arrow arrays for `take`."""

    first: pa.StringArray
    """Male names (indices below `n_male`), then female names."""
    n_male: int
    male_p: np.ndarray
    female_p: np.ndarray
    last: pa.StringArray
    last_p: np.ndarray


def _weights(table: dict[str, float]) -> np.ndarray:
    values = np.fromiter(table.values(), dtype=np.float64)
    return values / values.sum()


@lru_cache(maxsize=1)
def name_tables() -> NameTables:
    """The name tables, built once per process."""
    male, female = FakerPerson.first_names_male, FakerPerson.first_names_female
    return NameTables(
        first=pa.array([*male, *female], pa.string()),
        n_male=len(male),
        male_p=_weights(male),
        female_p=_weights(female),
        last=pa.array(list(FakerPerson.last_names), pa.string()),
        last_p=_weights(FakerPerson.last_names),
    )


@dataclass(frozen=True)
class Places:
    """Towns with one ZIP each: the addresses people live at.

    A place's weight makes some ZIPs dense, so common names meet in them.
    """

    city: pa.StringArray
    county: pa.StringArray
    state: pa.StringArray
    state_index: np.ndarray
    zip5: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.zip5)

    def zip5_text(self, index: np.ndarray) -> pa.StringArray:
        """The 5-digit ZIP of each place in `index`, leading zeros kept."""
        return pc.utf8_lpad(pa.array(self.zip5[index]).cast(pa.string()), 5, "0")


def _town_names(rng: np.random.Generator, n: int) -> list[str]:
    prefix = rng.integers(0, len(geography.TOWN_PREFIXES), n)
    stem = rng.integers(0, len(geography.TOWN_STEMS), n)
    suffix = rng.integers(0, len(geography.TOWN_SUFFIXES), n)
    return [
        geography.TOWN_PREFIXES[p] + geography.TOWN_STEMS[s] + geography.TOWN_SUFFIXES[x]
        for p, s, x in zip(prefix, stem, suffix, strict=True)
    ]


def draw_places(rng: np.random.Generator, n: int) -> Places:
    """Draw `n` places (fewer if ZIPs collide), states weighted by population."""
    states = np.array(geography.STATES)
    pop = np.array([geography.STATE_POPULATION[s] for s in geography.STATES])
    state_index = rng.choice(len(states), size=n, p=pop / pop.sum())
    low = np.array([geography.ZIP_RANGES[s][0] for s in geography.STATES])[state_index]
    high = np.array([geography.ZIP_RANGES[s][1] for s in geography.STATES])[state_index]
    zip5 = (low + rng.random(n) * (high - low + 1)).astype(np.int32)
    _, first = np.unique(zip5, return_index=True)
    keep = np.sort(first)
    counties = [f"{name} County" for name in _town_names(rng, n)]
    towns = _town_names(rng, n)
    weight = rng.lognormal(0.0, 0.8, n)[keep]
    return Places(
        city=pa.array([towns[i] for i in keep], pa.string()),
        county=pa.array([counties[i] for i in keep], pa.string()),
        state=pa.array(states[state_index[keep]].tolist(), pa.string()),
        state_index=state_index[keep],
        zip5=zip5[keep],
        weight=weight / weight.sum(),
    )


@dataclass(frozen=True)
class PopulationRates:
    """How people are drawn; defaults follow the issue's guidance."""

    household_rate: float = 0.04
    """Share of people who live with others of the same surname at the same address."""
    namesake_rate: float = 0.01
    """Share of people who have the same first and last name as another person in their ZIP."""
    middle_rate: float = 0.7
    email_rate: float = 0.85
    phone_rate: float = 0.9
    unit_rate: float = 0.15
    shared_landline_rate: float = 0.3
    """Household members who also list the household's landline as a second phone."""


@dataclass
class People:
    """A batch of people as parallel arrays; indices point into the name and place tables."""

    person_id: np.ndarray
    household_id: np.ndarray
    """Id of the household's first member, or -1 for people who live alone."""
    namesake_of: np.ndarray
    """Person id whose name this person shares in the same ZIP, or -1."""
    female: np.ndarray
    first: np.ndarray
    middle: np.ndarray
    """Index of the middle name in the first-name table, or -1."""
    last: np.ndarray
    suffix: np.ndarray
    place: np.ndarray
    street_word: np.ndarray
    street_suffix: np.ndarray
    directional: np.ndarray
    """Index into `geography.DIRECTIONALS`, or -1."""
    house: np.ndarray
    unit: np.ndarray
    """Apartment number, 0 when none."""
    zip4: np.ndarray
    phone: np.ndarray
    """10-digit NANP number, 0 when the person gave none."""
    phone2: np.ndarray
    email_style: np.ndarray
    email_domain: np.ndarray
    has_email: np.ndarray
    created: np.ndarray
    """When the person first entered any system, epoch seconds."""

    def __len__(self) -> int:
        return len(self.person_id)

    def take(self, index: np.ndarray) -> People:
        """The people at `index`, in that order."""
        return People(**{f.name: getattr(self, f.name)[index] for f in fields(self)})

    def head(self, count: int) -> People:
        """The first `count` people, without links to the people left out.

        Ids in a batch are consecutive, so the people left out are those with larger ids. A
        namesake whose model is left out keeps the name but loses the link; a household left
        with one member is no household.
        """
        kept = self.take(np.arange(count))
        kept.namesake_of[kept.namesake_of > kept.person_id[-1]] = -1
        households, size = np.unique(kept.household_id[kept.household_id >= 0],
                                     return_counts=True)
        alone = np.isin(kept.household_id, households[size < 2])
        kept.household_id[alone] = -1
        return kept


def _first_names(rng: np.random.Generator, female: np.ndarray) -> np.ndarray:
    tables = name_tables()
    male = rng.choice(tables.n_male, size=len(female), p=tables.male_p)
    fem = tables.n_male + rng.choice(len(tables.female_p), size=len(female), p=tables.female_p)
    return np.where(female, fem, male).astype(np.int32)


def _street_words() -> int:
    return len(geography.STREET_WORDS) + len(name_tables().last)


def draw_addresses(
    rng: np.random.Generator, places: Places, n: int, unit_rate: float = 0.15
) -> dict[str, np.ndarray]:
    """Independent addresses: a place, a street among the place's forty, a house number."""
    place = rng.choice(len(places), size=n, p=places.weight).astype(np.int32)
    local_street = rng.integers(0, 40, n)
    street_key = (place.astype(np.int64) * 7919 + local_street * 104_729) % 1_000_003
    n_suffix = len(geography.STREET_SUFFIXES)
    suffix_p = np.array([s[2] for s in geography.STREET_SUFFIXES])
    suffix_cdf = np.cumsum(suffix_p / suffix_p.sum())
    suffix = np.searchsorted(suffix_cdf, (street_key % 997) / 997.0).clip(0, n_suffix - 1)
    directional = np.where(street_key % 10 == 0, street_key % len(geography.DIRECTIONALS), -1)
    return {
        "place": place,
        "street_word": (street_key % _street_words()).astype(np.int32),
        "street_suffix": suffix.astype(np.int8),
        "directional": directional.astype(np.int8),
        "house": np.exp(rng.uniform(0, np.log(9999), n)).astype(np.int32) + 1,
        "unit": np.where(rng.random(n) < unit_rate,
                         rng.integers(1, 400, n), 0).astype(np.int32),
        "zip4": rng.integers(1, 9999, n).astype(np.int16),
    }


def draw_phones(rng: np.random.Generator, places: Places, place: np.ndarray) -> np.ndarray:
    """Valid 10-digit NANP numbers with an area code of the place's state."""
    codes = [geography.AREA_CODES[s] for s in geography.STATES]
    flat = np.array([c for group in codes for c in group], dtype=np.int64)
    count = np.array([len(group) for group in codes])
    offset = np.concatenate([[0], np.cumsum(count)[:-1]])
    state = places.state_index[place]
    area = flat[offset[state] + (rng.random(len(place)) * count[state]).astype(np.int64)]
    exchange = rng.integers(200, 1000, len(place))
    exchange = np.where(exchange % 100 == 11, exchange + 1, exchange)
    exchange = np.where(exchange == 555, 556, exchange)
    return area * 10_000_000 + exchange * 10_000 + rng.integers(0, 10_000, len(place))


def draw_people(
    rng: np.random.Generator,
    n: int,
    first_id: int,
    places: Places,
    rates: PopulationRates | None = None,
) -> People:
    """Draw about `n` people (households add members) with ids from `first_id` up.

    Args:
        rng: The one random stream of the run.
        n: People living alone or heading a household; members come on top.
        first_id: The first person id of this batch (ids are global across batches).
        places: Where people live.
        rates: Household, namesake and completeness rates.

    Returns:
        The batch, household members directly after their household's first member.
    """
    rates = rates or PopulationRates()
    female = rng.random(n) < 0.5
    address = draw_addresses(rng, places, n, rates.unit_rate)
    people = People(
        person_id=np.zeros(n, np.int64),
        household_id=np.full(n, -1, np.int64),
        namesake_of=np.full(n, -1, np.int64),
        female=female,
        first=_first_names(rng, female),
        middle=np.where(rng.random(n) < rates.middle_rate, _first_names(rng, female), -1),
        last=rng.choice(len(name_tables().last), size=n, p=name_tables().last_p).astype(np.int32),
        suffix=np.where(female, 0, rng.choice(len(SUFFIXES), size=n, p=_SUFFIX_P)).astype(np.int8),
        phone=np.where(rng.random(n) < rates.phone_rate,
                       draw_phones(rng, places, address["place"]), 0),
        phone2=np.zeros(n, np.int64),
        email_style=rng.integers(0, 6, n).astype(np.int8),
        email_domain=_email_domains(rng, n),
        has_email=rng.random(n) < rates.email_rate,
        created=rng.integers(_EPOCH_2012, _EPOCH_2024 - 4 * 365 * 86400, n),
        **address,
    )
    people = _with_households(rng, people, places, rates)
    people.person_id[:] = first_id + np.arange(len(people))
    hh = people.household_id >= 0
    people.household_id[hh] = people.person_id[people.household_id[hh]]
    _plant_namesakes(rng, people, rates.namesake_rate)
    return people


def _email_domains(rng: np.random.Generator, n: int) -> np.ndarray:
    share = np.array([d[1] for d in geography.EMAIL_DOMAINS])
    return rng.choice(len(share), size=n, p=share / share.sum()).astype(np.int8)


def _with_households(
    rng: np.random.Generator, people: People, places: Places, rates: PopulationRates
) -> People:
    """Add 1-3 members to some people; members share surname, address and maybe a landline.

    Until ids are assigned, `household_id` holds the batch position of the head.
    """
    n = len(people)
    heads = np.flatnonzero(rng.random(n) < rates.household_rate / 2.6)
    size = rng.choice([1, 2, 3], size=len(heads), p=[0.6, 0.3, 0.1])
    head_of_member = np.repeat(heads, size)
    order = np.argsort(np.concatenate([np.arange(n), head_of_member]), kind="stable")
    members = people.take(head_of_member)
    m = len(members)
    members.female = rng.random(m) < 0.5
    members.first = _first_names(rng, members.female)
    members.middle = np.where(rng.random(m) < rates.middle_rate,
                              _first_names(rng, members.female), -1)
    members.suffix = np.zeros(m, np.int8)
    members.email_style = rng.integers(0, 6, m).astype(np.int8)
    members.email_domain = _email_domains(rng, m)
    members.has_email = rng.random(m) < rates.email_rate
    members.phone = np.where(rng.random(m) < rates.phone_rate,
                             draw_phones(rng, places, members.place), 0)
    landline = np.where(people.phone[head_of_member] > 0, people.phone[head_of_member], 0)
    members.phone2 = np.where(rng.random(m) < rates.shared_landline_rate, landline, 0)
    members.household_id = head_of_member.astype(np.int64)
    people.household_id[heads] = heads
    combined = People(**{
        f.name: np.concatenate([getattr(people, f.name), getattr(members, f.name)])
        for f in fields(people)
    })
    batch = combined.take(order)
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(len(order))
    hh = batch.household_id >= 0
    batch.household_id[hh] = position[batch.household_id[hh]]
    _distinct_first_names(batch)
    return batch


def _distinct_first_names(batch: People) -> None:
    """Give a member who drew the head's first name the next name in the table instead."""
    hh = np.flatnonzero((batch.household_id >= 0)
                        & (batch.household_id != np.arange(len(batch))))
    head = batch.household_id[hh]
    clash = batch.first[hh] == batch.first[head]
    batch.first[hh[clash]] = (batch.first[hh[clash]] + 1) % len(name_tables().first)


def _plant_namesakes(rng: np.random.Generator, people: People, rate: float) -> None:
    """Copy another person's first and last name (and ZIP) onto some people living alone."""
    alone = np.flatnonzero(people.household_id < 0)
    if len(alone) < 2:
        return
    picked = rng.random(len(alone)) < rate
    chosen, models = alone[picked], alone[~picked]
    if not len(chosen) or not len(models):
        return
    model = rng.choice(models, size=len(chosen))
    for name in ("female", "first", "last", "place"):
        getattr(people, name)[chosen] = getattr(people, name)[model]
    people.namesake_of[chosen] = people.person_id[model]


def email_address(people: People) -> pa.Array:
    """Each person's email: built from the true name, so it survives name variation.

    The numeric tag is a bijection of the person id (7919 is coprime to 10), so no two
    people share an address by accident, as they do not in real data.
    """
    tables = name_tables()
    first = pc.utf8_lower(tables.first.take(pa.array(people.first)))
    last = pc.utf8_lower(pc.replace_substring(tables.last.take(pa.array(people.last)), " ", ""))
    initial = pc.utf8_slice_codeunits(first, 0, 1)
    join = pc.binary_join_element_wise
    user = pc.choose(
        pa.array(people.email_style), join(first, last, "."), join(first, last, ""),
        join(initial, last, ""), join(first, last, "_"), join(last, first, "."),
        join(first, pc.utf8_slice_codeunits(last, 0, 1), ""),
    )
    tag = pa.array((people.person_id * 7_919) % 100_000_000).cast(pa.string())
    domain = pa.array([d[0] for d in geography.EMAIL_DOMAINS], pa.string()).take(
        pa.array(people.email_domain))
    return join(user, tag, "@", domain, "")
