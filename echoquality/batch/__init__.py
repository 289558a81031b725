"""Archive-scale batch analysis: folders of recordings analysed on a Dask cluster (local or remote),
resumable, with one summary row per recording and the per-frame rows in a partitioned Parquet dataset.

    discover   which files are recordings (and why the others are skipped)
    keys       content hashes, the model fingerprint, the key of one recording's analysis
    store      the output folder: done markers, per-frame Parquet parts, the recordings table
    worker     what runs on a worker: one recording through the `analyze` chain, models loaded once per process
    engine     the cluster, the submission window, progress and resumption
"""
