"""Knowledge graphs: triples extracted from a knowledge base, resolved entities, curation, queries, fact checks.

extract.py (names + model relations, checked) → build.py (incremental, resumable) → resolve.py (who is who)
→ graph.py (store, add/remove/validate) → merge.py (merge, split, review) → query.py (show, neighbours, paths, export)
→ facts.py (write --kg) and factcheck.py (claims against the graph).
"""
