"""Golden records for people: MinHash LSH blocking, tiered matching, clustering, on Ray.

The compute core of deduplication. Arrow tables in, Arrow tables out; reading from and
writing back to PostgreSQL, the CLI and the Prefect flow sit on top of this API.

Input (`run`, `run_incremental`, `dedup_file`): one row per person record, columns
(missing optional columns are treated as null):

====================  =====================  =============================================
column                type                   meaning
====================  =====================  =============================================
id                    int64, unique          ``persons.id``
first_name            string                 given name as recorded
middle_name           string                 middle name or initial
last_name             string                 surname (suffixes such as Jr are ignored)
email                 string                 primary email (invalid ones are ignored)
phone_e164            string                 primary phone, E.164 (``+15125551234``)
street                string                 street line (USPS words are abbreviated)
city                  string
state                 string                 two letters
zip5                  string                 five-digit ZIP
source_updated_at     timestamp[us, UTC]     when the source last changed the record
manual_override       bool                   a person marked this record golden
email_verified        bool
phone_verified        bool
is_original           bool (default true)    golden now; breaks ties so golden ids stay put
====================  =====================  =============================================

Output (`DedupResult`): ``pairs`` (accepted pairs with tier, reason, confidence, 0-100
score and per-field score parts), ``assignments`` (golden id, cluster, why the golden record
won, each duplicate's comparison with it), ``merged_fields`` (field-level survivorship),
``capped_buckets`` (oversized buckets and what was still compared), ``counts``, ``timings``
and ``band_keys()`` (the ``(person_id, band, bucket_hash)`` rows incremental runs look up).

Usage::

    from dedup_ray import DedupSettings, run

    result = run(people, DedupSettings(), use_ray=False)  # or use_ray=True: RAY_ADDRESS or local

Modules: `settings`, `normalize`, `signatures` (datasketch-equal MinHash over Arrow),
`blocking` (LSH bands, exact keys, caps), `scoring` (tiers, scores), `clustering`
(components, chain guard), `golden` (golden rules, survivorship), `engine` (the pipeline,
in-process or Ray), `incremental` (daily runs against stored keys), `files` (CSV/Parquet
lists), `synthetic` (people with known duplicates).
"""

from dedup_ray.engine import DedupResult, ray_init, run
from dedup_ray.files import dedup_file
from dedup_ray.incremental import InMemoryKeyStore, KeyStore, run_incremental
from dedup_ray.normalize import INPUT_SCHEMA
from dedup_ray.settings import DedupSettings
from dedup_ray.signatures import minhash_signatures

__all__ = [
    "INPUT_SCHEMA",
    "DedupResult",
    "DedupSettings",
    "InMemoryKeyStore",
    "KeyStore",
    "dedup_file",
    "minhash_signatures",
    "ray_init",
    "run",
    "run_incremental",
]
