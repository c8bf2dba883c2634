"""Dev diagnostic: is a gold must_contain alternative in the sentences shown to the model?"""
import json, sys
from pathlib import Path
from qa.assistant import Assistant, Part
from qa.settings import Settings
from qa.evidence import select_evidence
from qa.questions import standalone_query
split = sys.argv[1]
run = json.load(open(sys.argv[2]))
drafts = {i['id']: i for i in run['items']}
out = []
for corpus, folder in (("seeds", None), ("git", Path("/work/main/eval/corpora/git/docs"))):
    s = Settings.for_corpus() if folder is None else Settings.for_corpus(folder)
    a = Assistant(s)
    for line in open(f"/work/main/eval/gold/{split}/{corpus}.jsonl"):
        g = json.loads(line)
        if not g.get("must_contain") or g.get("type") == "conversation": continue
        q = g["question"]
        v = a.embedder.embed([q])[0]
        ps = a.retriever.retrieve(q, s.top_k, v)
        ev = select_evidence(q, v, ps, a.sentence_embedder, s.prompt_passages, s.evidence_sentences)
        shown = " ".join(e.header + " " + e.text for e in ev).lower()
        passages = " ".join(p.text for p in ps[: s.prompt_passages]).lower()
        inev = all(any(alt.lower() in shown for alt in grp) for grp in g["must_contain"])
        inpass = all(any(alt.lower() in passages for alt in grp) for grp in g["must_contain"])
        r = drafts.get(g["id"], {})
        out.append(dict(chars=len(shown), id=g["id"], corpus=corpus, in_evidence=inev, in_passages=inpass, draft_correct=r.get("draft_correct"), type=g.get("type")))
import collections
for corpus in ("seeds", "git"):
    c = collections.Counter((o["in_passages"], o["in_evidence"], o["draft_correct"]) for o in out if o["corpus"] == corpus)
    print(corpus, "(in_passages, in_evidence, draft_correct):", sorted(c.items(), key=str))
    print(corpus, "in_evidence", sum(o["in_evidence"] for o in out if o["corpus"]==corpus), "in_passages", sum(o["in_passages"] for o in out if o["corpus"]==corpus), "of", sum(1 for o in out if o["corpus"]==corpus), "mean chars", round(sum(o["chars"] for o in out if o["corpus"]==corpus)/max(1,sum(1 for o in out if o["corpus"]==corpus))))
json.dump(out, open(f"/tmp/diag/evidence_{split}.json", "w"), indent=1)
