"""MetaAlign records: typed SFT and preference samples, their files, importers and statistics.

Owns the data every stage shares (System Info, User Info, dialogue, completions, metadata).
Does not render records into model input (that is `metaalign.render`) and imports no torch;
pyarrow and datasets are imported only when a Parquet file or `datasets` folder is touched.
"""

from metaalign.records.importers import (
    import_generic,
    import_hh_rlhf,
    import_multifaceted,
    import_ultrafeedback,
    parse_mapping,
)
from metaalign.records.io import LoadResult, RawRow, read_records, read_rows
from metaalign.records.schema import (
    SUBSETS,
    Message,
    PreferenceRecord,
    Record,
    RecordMeta,
    SFTRecord,
    Subset,
)
from metaalign.records.stats import compute_stats, format_stats
from metaalign.records.writing import write_records

__all__ = [
    "SUBSETS",
    "LoadResult",
    "Message",
    "PreferenceRecord",
    "RawRow",
    "Record",
    "RecordMeta",
    "SFTRecord",
    "Subset",
    "compute_stats",
    "format_stats",
    "import_generic",
    "import_hh_rlhf",
    "import_multifaceted",
    "import_ultrafeedback",
    "parse_mapping",
    "read_records",
    "read_rows",
    "write_records",
]
