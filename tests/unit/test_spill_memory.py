"""Streaming an input holds one batch at a time, not what was read before it.

pyarrow's ParquetFile pre-buffers by default and keeps what it read ahead until the file is
closed: spilling a 3M-lead world's 60M events grew Arrow's memory by 500 MiB and made the spill
the run's peak. Arrow's own allocation counter shows it without timing anything.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.batch.spill import iter_arrow_batches
from tests.conftest import demo_config

ROW_GROUPS, ROWS = 40, 20_000


def test_a_parquet_input_is_streamed_in_bounded_memory(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "activities.parquet"
    with pq.ParquetWriter(path, pa.schema([("lead_id", pa.string()),
                                            ("detail", pa.string()),
                                            ("value", pa.float64())])) as writer:
        for _ in range(ROW_GROUPS):
            ids = rng.integers(0, 10**7, ROWS).astype(str)
            writer.write_table(pa.table({"lead_id": ids, "detail": np.char.add("page-", ids),
                                         "value": rng.random(ROWS)}))
    before = pa.total_allocated_bytes()
    peak, batch_bytes, rows = 0, 0, 0
    for batch in iter_arrow_batches(path, demo_config(tmp_path), ROWS):
        peak = max(peak, pa.total_allocated_bytes() - before)
        batch_bytes = max(batch_bytes, batch.nbytes)
        rows += batch.num_rows
    assert rows == ROW_GROUPS * ROWS
    # a few batches' worth at most (the current one, the page being decoded); pre-buffered, the
    # peak grows with every row group read (about ROW_GROUPS times a batch)
    assert peak < 6 * batch_bytes, (peak, batch_bytes)
