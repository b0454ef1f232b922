#!/usr/bin/python3
"""The BM25 peer of bench_bm25: Xapian ranks the same passages and queries.

    bench_bm25 --write DIR 200000         # writes DIR/passages_200000.txt, DIR/queries_200000.txt
    tests/bench/peers/xapian_bm25.py DIR 200000 [--k 100]

Xapian (python3-xapian, Debian's 1.4) with BM25Weight(k1=0.9, k2=0, k3=1,
b=0.4, min_normlen=0.5) -- the k1 and b of `fid bm25` -- over a glass
database in a temporary directory (Xapian's own backend, written without fsync), terms as the text's space-separated words (the corpus is already
lower-case words), queries as OP_OR of their words, top-k. Prints passages/s
to index and queries/s to search, as bench_bm25 does. A benchmark, not a test:
never run in CI.
"""
import os
import sys
import tempfile
import time

import xapian


def main():
    directory, n = sys.argv[1], sys.argv[2]
    k = int(sys.argv[sys.argv.index("--k") + 1]) if "--k" in sys.argv else 100
    # --db PATH keeps the database there, and a later run with the same PATH
    # searches it without building (a 1M-passage build takes minutes; the
    # alternating comparison, bm25_side_by_side.sh, builds once).
    keep = sys.argv[sys.argv.index("--db") + 1] if "--db" in sys.argv else None
    tmp = None if keep else tempfile.TemporaryDirectory()
    path = keep or tmp.name
    if keep and os.path.exists(os.path.join(keep, "iamglass")):
        db = xapian.Database(keep)
        count, build_s = db.get_doccount(), None
    else:
        db = xapian.WritableDatabase(path, xapian.DB_CREATE_OR_OVERWRITE | xapian.DB_BACKEND_GLASS | xapian.DB_NO_SYNC)
        t0 = time.perf_counter()
        count = 0
        with open(f"{directory}/passages_{n}.txt") as f:
            for line in f:
                doc = xapian.Document()
                for pos, word in enumerate(line.split(), 1):
                    doc.add_posting(word, pos)
                db.add_document(doc)
                count += 1
        db.commit()
        build_s = time.perf_counter() - t0
    with open(f"{directory}/queries_{n}.txt") as f:
        queries = [line.split() for line in f]
    enquire = xapian.Enquire(db)
    enquire.set_weighting_scheme(xapian.BM25Weight(0.9, 0, 1, 0.4, 0.5))
    t0 = time.perf_counter()
    hits = 0
    for words in queries:
        enquire.set_query(xapian.Query(xapian.Query.OP_OR, words))
        hits += enquire.get_mset(0, k).size()
    search_s = time.perf_counter() - t0
    print(f"xapian {xapian.version_string()}: {count} passages")
    if build_s is None:
        print(f"  index build   (database kept in {keep})")
    else:
        print(f"  index build   {build_s:.1f} s  {count / build_s:.0f} passages/s")
    print(f"  search        {len(queries)} queries in {search_s:.2f} s  {len(queries) / search_s:.1f} queries/s"
          f"  (top-{k}, {hits} hits)")


if __name__ == "__main__":
    main()
