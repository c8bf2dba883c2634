"""IVFFlat at 100k rows in the bench's own tables (eval.bench.postgres.build_tables): the plan pgvector's cost
estimate picks, p50 and recall@10 per lists x probes. JSON lines to /tmp/ivf/lists.log.

    python lists_100k.py 100000 200,632 10,40,100
"""
import json, sys, time
from pathlib import Path
import numpy as np, psycopg
from pgvector.psycopg import register_vector
sys.path.insert(0, "/work/main")
from eval.bench.postgres import build_tables, _first_key
from eval.bench.synthetic import interpolate, section_titles, synthetic_chunks
from index.db import start_local, stop_local
from qa.store import load_store
from qa.embed import embedder_for
from qa.settings import Settings

ROWS = int(sys.argv[1]); LISTS = [int(x) for x in sys.argv[2].split(",")]; PROBES = [int(x) for x in sys.argv[3].split(",")]
log = open("/tmp/ivf/lists.log", "a")
def out(**kw):
    print(json.dumps(kw), file=log, flush=True); print(kw, flush=True)

base = load_store(Path("/tmp/pydoc/before"))
vectors = interpolate(base.vectors, ROWS)
q = np.asarray(embedder_for(Settings()).embed(section_titles(base.chunks, 105)), dtype=np.float32)
truth = np.argsort(-(q @ vectors.T), axis=1)[:, :10]
data = Path(f"/tmp/ivf/pg-lists-{ROWS}")
url = start_local(data)
try:
    build_tables(url, base, synthetic_chunks(base.chunks, ROWS), vectors, Settings())
    first = _first_key(url)
    with psycopg.connect(url, autocommit=True) as c:
        register_vector(c)
        for lists in LISTS:
            c.execute("DROP INDEX IF EXISTS qa_chunks_ivfflat"); c.execute("SET maintenance_work_mem = '4GB'")
            t = time.perf_counter()
            c.execute(f"CREATE INDEX qa_chunks_ivfflat ON qa_chunks USING ivfflat (embedding vector_ip_ops) WITH (lists = {lists})")
            out(stage="build", rows=ROWS, lists=lists, s=round(time.perf_counter() - t, 1))
            for probes in PROBES:
                c.execute(f"SET ivfflat.probes = {probes}")
                plan = " ".join(r[0] for r in c.execute("EXPLAIN SELECT seq FROM qa_chunks ORDER BY embedding <#> %s LIMIT 30", (q[0],)))
                hits, times = 0, []
                for qi, qv in enumerate(q):
                    t = time.perf_counter()
                    ids = [r[0] - first for r in c.execute("SELECT seq FROM qa_chunks ORDER BY embedding <#> %s LIMIT 30", (qv,)).fetchall()]
                    times.append(time.perf_counter() - t)
                    hits += len(set(ids[:10]) & set(truth[qi].tolist()))
                out(stage="search", rows=ROWS, lists=lists, probes=probes, index_scan="qa_chunks_ivfflat" in plan,
                    recall=round(hits / (10 * len(q)), 3), p50_ms=round(1000 * float(np.median(times)), 1))
finally:
    stop_local(data)
