"""pgvector IVFFlat at 1M interpolated rows (as hnsw-1m-20261203): build time, size, recall@10 vs exact, p50 per probes.

    python pg_exp.py 1000,2000 4GB 20,50,100 [titles|sentences]   # lists, maintenance_work_mem, probes, queries;
                                                                   # JSON lines to /tmp/ivf/pg.log

Queries: 105 section titles of the base (as the bench's --pg-query-source titles), or the first sentences of
105 random base chunks (in-distribution), a second query set the lists/probes were not chosen on.
"""
import json, sys, time
from pathlib import Path
import numpy as np, psycopg, faiss
from pgvector.psycopg import register_vector
sys.path.insert(0, "/work/main")
from eval.bench.synthetic import interpolate, section_titles
from index.db import start_local, stop_local
from qa.store import load_store
from qa.embed import embedder_for
from qa.settings import Settings

ROWS = 1_000_000
MWM = sys.argv[2]
PROBES = [int(x) for x in sys.argv[3].split(",")]
log = open("/tmp/ivf/pg.log", "a")
def out(**kw):
    print(json.dumps(kw), file=log, flush=True); print(kw, flush=True)

base = load_store(Path("/tmp/pydoc/before"))
vectors = interpolate(base.vectors, ROWS)
QUERIES = sys.argv[4] if len(sys.argv) > 4 else "titles"
if QUERIES == "titles":
    texts = section_titles(base.chunks, 105)
else:
    import random

    texts = [c.text.split(". ")[0][:300] for c in random.Random(1).sample(base.chunks, 105)]
q = np.asarray(embedder_for(Settings()).embed(texts), dtype=np.float32)
q /= np.linalg.norm(q, axis=1, keepdims=True)
ex = faiss.IndexFlatIP(vectors.shape[1]); ex.add(vectors)
_, truth = ex.search(q, 10)
url = start_local(Path("/tmp/ivf/pg"))
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
        c.add_notice_handler(lambda n: out(stage="notice", msg=n.message_primary))
        for lists in (int(x) for x in sys.argv[1].split(",")):
            c.execute("DROP INDEX IF EXISTS v_ivf")
            c.execute(f"SET maintenance_work_mem = '{MWM}'"); c.execute("SET max_parallel_maintenance_workers = 1")
            t = time.perf_counter()
            c.execute(f"CREATE INDEX v_ivf ON v USING ivfflat (e vector_ip_ops) WITH (lists = {lists})")
            build = round(time.perf_counter() - t, 1)
            size = c.execute("SELECT pg_relation_size('v_ivf')").fetchone()[0] / 2**20
            out(stage="build", queries=QUERIES, mwm=MWM, lists=lists, s=build, mb=round(size))
            for probes in PROBES:
                c.execute(f"SET ivfflat.probes = {probes}")
                hits, times = 0, []
                for qi, qv in enumerate(q):
                    t = time.perf_counter()
                    ids = [r[0] for r in c.execute("SELECT id FROM v ORDER BY e <#> %s LIMIT 10", (qv,)).fetchall()]
                    times.append(time.perf_counter() - t)
                    hits += len(set(ids) & set(truth[qi].tolist()))
                out(stage="search", lists=lists, probes=probes, recall=round(hits / (10 * len(q)), 3),
                    p50_ms=round(1000 * float(np.median(times)), 1), p95_ms=round(1000 * float(np.percentile(times, 95)), 1))
finally:
    stop_local(Path("/tmp/ivf/pg"))
