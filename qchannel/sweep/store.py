"""Where a sweep's finished points live: one JSON part file per point while
it runs, one Parquet table (with the sweep's description) at the end."""
import hashlib
import json
import os

FORMAT = "qchannel.sweep/1"
META_KEY = b"qchannel.sweep"


def _key_hash(key):
    return hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def _atomic_write_bytes(path, data):
    d = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(d, f".tmp-{os.path.basename(path)}-{os.getpid()}")
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


class Store:
    """Finished points of one sweep: part files in ``out + ".parts/"`` and
    the consolidated Parquet file ``out``.  Only the driver touches them."""

    def __init__(self, out, meta):
        self.out = os.fspath(out)
        self.parts = self.out + ".parts"
        self.meta = meta

    def exists(self):
        return os.path.exists(self.out) or os.path.isdir(self.parts)

    def _check_meta(self, found, where):
        want = {k: v for k, v in self.meta.items() if k != "grid_keys"}
        got = {k: v for k, v in found.items() if k != "grid_keys"}
        if json.loads(json.dumps(want)) != got:
            diff = sorted(k for k in set(want) | set(got) if json.loads(json.dumps(want.get(k))) != got.get(k))
            raise ValueError(f"{where} holds a different sweep (differs in {', '.join(diff)}): "
                             f"use another out file or remove it")

    def load(self):
        """Rows already finished: {point key: row}."""
        rows = {}
        if os.path.exists(self.out):
            import pyarrow.parquet as pq

            try:
                table = pq.read_table(self.out)
            except Exception as err:
                raise ValueError(f"{self.out} is not a readable Parquet file: {err}") from None
            raw = (table.schema.metadata or {}).get(META_KEY)
            if raw is None or "point_key" not in table.column_names:
                raise ValueError(f"{self.out} was not written by qchannel sweep")
            self._check_meta(json.loads(raw), self.out)
            for row in table.to_pylist():
                rows[row["point_key"]] = row
        if os.path.isdir(self.parts):
            mpath = os.path.join(self.parts, "sweep.json")
            if os.path.exists(mpath):
                with open(mpath) as f:
                    self._check_meta(json.load(f), self.parts)
            for name in os.listdir(self.parts):
                path = os.path.join(self.parts, name)
                if name.startswith(".tmp-"):
                    os.unlink(path)  # a write cut short by a kill
                    continue
                if not name.endswith(".json") or name == "sweep.json":
                    continue
                try:
                    with open(path) as f:
                        part = json.load(f)
                    rows[part["key"]] = part["row"]
                except (OSError, ValueError, KeyError, TypeError):
                    os.unlink(path)  # unreadable (e.g. a crash of the node): recompute
        return rows

    def begin(self):
        os.makedirs(self.parts, exist_ok=True)
        _atomic_write_bytes(os.path.join(self.parts, "sweep.json"),
                            json.dumps(self.meta, indent=1).encode())

    def put(self, key, row):
        data = json.dumps({"key": key, "row": row}, separators=(",", ":")).encode()
        _atomic_write_bytes(os.path.join(self.parts, _key_hash(key) + ".json"), data)

    def finish(self, df):
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(df, preserve_index=False)
        md = dict(table.schema.metadata or {})
        md[META_KEY] = json.dumps(self.meta).encode()
        table = table.replace_schema_metadata(md)
        d = os.path.dirname(os.path.abspath(self.out))
        tmp = os.path.join(d, f".tmp-{os.path.basename(self.out)}-{os.getpid()}")
        pq.write_table(table, tmp)
        os.replace(tmp, self.out)
        if os.path.isdir(self.parts):
            import shutil

            shutil.rmtree(self.parts, ignore_errors=True)


def read_meta(path):
    """The sweep description stored in a result file (mode, seed, scenario, grid keys)."""
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except FileNotFoundError:
        raise ValueError(f"{path} does not exist") from None
    except Exception as err:
        raise ValueError(f"{path} is not a readable Parquet file: {err}") from None
    raw = (schema.metadata or {}).get(META_KEY)
    return None if raw is None else json.loads(raw)
