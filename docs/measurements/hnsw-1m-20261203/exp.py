"""HNSW at 1M interpolated rows: build time, recall@10 vs exact, p50 per ef_search, JSON lines to /tmp/hnsw/exp.log.

    python exp.py 48/256 12GB 100,200,400,1000 titles   # configs m/ef_construction, maintenance_work_mem,
                                                        # ef_search list, queries (titles | sentences)

The first line of results.jsonl (m 32/128 at 12GB, ef 100-800) came from an earlier version without the
near-tie figures ("ties", within_001_of_10th); the later lines from this one.
"""
import json, sys, time
from pathlib import Path
import numpy as np, psycopg
from pgvector.psycopg import register_vector
sys.path.insert(0, "/work/main")
from eval.bench.synthetic import interpolate, section_titles
from index.db import start_local, stop_local
from qa.store import load_store
from qa.embed import embedder_for
from qa.settings import Settings

ROWS = 1_000_000
MWM = sys.argv[2] if len(sys.argv) > 2 else "12GB"
EFS = [int(x) for x in sys.argv[3].split(",")] if len(sys.argv) > 3 else [100, 200, 400, 1000]
log = open("/tmp/hnsw/exp.log", "a")
def out(**kw):
    print(json.dumps(kw), file=log, flush=True); print(kw, flush=True)

base = load_store(Path("/tmp/pydoc/before"))
vectors = interpolate(base.vectors, ROWS)
QUERIES = sys.argv[4] if len(sys.argv) > 4 else "titles"  # or "sentences": first sentences of random chunks
if QUERIES == "titles":
    texts = section_titles(base.chunks, 105)
else:
    import random

    picked = random.Random(1).sample(base.chunks, 105)
    texts = [c.text.split(". ")[0][:300] for c in picked]
emb = embedder_for(Settings())
q = np.asarray(emb.embed(texts), dtype=np.float32)
q /= np.linalg.norm(q, axis=1, keepdims=True)
import faiss
ex = faiss.IndexFlatIP(vectors.shape[1]); ex.add(vectors)
scores, truth = ex.search(q, 11)
gap = scores[:, 9] - scores[:, 10]; spread = scores[:, 0] - scores[:, 9]
out(stage="ties", gap10_11_p50=float(np.median(gap)), spread1_10_p50=float(np.median(spread)), kth_p50=float(np.median(scores[:, 9])))
kth = scores[:, 9]; truth = truth[:, :10]
out(stage="data", queries_from=QUERIES, rows=ROWS, base=len(base.vectors), queries=len(q))
url = start_local(Path("/tmp/hnsw/pg"))
try:
    with psycopg.connect(url, autocommit=True) as c:
        c.execute("CREATE EXTENSION IF NOT EXISTS vector"); register_vector(c)
        c.execute("DROP TABLE IF EXISTS v"); c.execute("CREATE TABLE v (id int, e vector(384))")
        t = time.perf_counter()
        with c.cursor().copy("COPY v (id, e) FROM STDIN WITH (FORMAT BINARY)") as cp:
            cp.set_types(["int4", "vector"])
            for i in range(ROWS):
                cp.write_row((i, vectors[i]))
        out(stage="copy", s=round(time.perf_counter() - t, 1))
        for cfg in sys.argv[1].split(","):
            m, efc = (int(x) for x in cfg.split("/"))
            c.execute("DROP INDEX IF EXISTS v_hnsw")
            c.execute(f"SET maintenance_work_mem = '{MWM}'"); c.add_notice_handler(lambda n: out(stage='notice', msg=n.message_primary)); c.execute("SET max_parallel_maintenance_workers = 1")
            t = time.perf_counter()
            c.execute(f"CREATE INDEX v_hnsw ON v USING hnsw (e vector_ip_ops) WITH (m={m}, ef_construction={efc})")
            build = round(time.perf_counter() - t, 1)
            size = c.execute("SELECT pg_relation_size('v_hnsw')").fetchone()[0] / 2**20
            out(stage="build", mwm=MWM, m=m, efc=efc, s=build, mb=round(size))
            for ef in EFS:
                c.execute(f"SET hnsw.ef_search = {ef}")
                hits, near, times = 0, 0, []
                for qi, qv in enumerate(q):
                    t = time.perf_counter()
                    got = c.execute("SELECT id, -(e <#> %s) FROM v ORDER BY e <#> %s LIMIT 10", (qv, qv)).fetchall()
                    ids = [r[0] for r in got]; near += sum(r[1] >= kth[qi] - 0.01 for r in got)
                    times.append(time.perf_counter() - t)
                    hits += len(set(ids) & set(truth[qi].tolist()))
                out(stage="search", m=m, efc=efc, ef=ef, recall=round(hits / (10 * len(q)), 3), within_001_of_10th=round(near / (10 * len(q)), 3),
                    p50_ms=round(1000 * float(np.median(times)), 1))
finally:
    stop_local(Path("/tmp/hnsw/pg"))
