"""IVFFlat on the same 1M interpolated rows as hnsw-1m-20261203: recall@10 vs exact and ms/query per nprobe.

    python faiss_sweep.py 1000,2000 10,20,50,100,200     # nlist list, nprobe list; JSON lines to /tmp/ivf/faiss.log

A cheap FAISS sweep (one thread, as a Postgres backend runs one query on one core) to choose lists/probes
before the pgvector build.
"""
import json, sys, time
from pathlib import Path
import numpy as np, faiss
sys.path.insert(0, "/work/main")
from eval.bench.synthetic import interpolate, section_titles
from qa.store import load_store
from qa.embed import embedder_for
from qa.settings import Settings

faiss.omp_set_num_threads(1)
ROWS = 1_000_000
log = open("/tmp/ivf/faiss.log", "a")
def out(**kw):
    print(json.dumps(kw), file=log, flush=True); print(kw, flush=True)

base = load_store(Path("/tmp/pydoc/before"))
vectors = interpolate(base.vectors, ROWS)
q = np.asarray(embedder_for(Settings()).embed(section_titles(base.chunks, 105)), dtype=np.float32)
q /= np.linalg.norm(q, axis=1, keepdims=True)
ex = faiss.IndexFlatIP(vectors.shape[1]); ex.add(vectors)
_, truth = ex.search(q, 10)
for nlist in (int(x) for x in sys.argv[1].split(",")):
    quant = faiss.IndexFlatIP(vectors.shape[1])
    ivf = faiss.IndexIVFFlat(quant, vectors.shape[1], nlist, faiss.METRIC_INNER_PRODUCT)
    t = time.perf_counter()
    sample = vectors[np.random.default_rng(0).choice(ROWS, min(ROWS, 50 * nlist), replace=False)]  # pgvector samples 50 rows per list
    ivf.train(sample); ivf.add(vectors)
    out(stage="build", nlist=nlist, s=round(time.perf_counter() - t, 1))
    for nprobe in (int(x) for x in sys.argv[2].split(",")):
        ivf.nprobe = nprobe
        times, hits = [], 0
        for qi in range(len(q)):
            t = time.perf_counter(); _, ids = ivf.search(q[qi:qi + 1], 10); times.append(time.perf_counter() - t)
            hits += len(set(ids[0].tolist()) & set(truth[qi].tolist()))
        out(stage="search", nlist=nlist, nprobe=nprobe, recall=round(hits / (10 * len(q)), 3), p50_ms=round(1000 * float(np.median(times)), 2))
