"""pandas + pyarrow baseline of the balance stage's data work, the same rules as activities/balance:
read all five sources, filter with reject reasons, normalise + hash problems, dedupe within and across sources
(priority order), seeded keyed-hash sample of 400 per source, write the verl RL parquet and the rejects parquet.
Usage: .tools/py/bin/python bench/balance/baseline.py SRC_DIR OUT_DIR"""
import glob
import hashlib
import json
import os
import re
import sys
import time
import unicodedata

import pandas as pd
import pyarrow as pa
import pyarrow.ipc as ipc
import pyarrow.parquet as pq

SEED = 1
TAKE = 400
PRIORITY = ["omni_math", "numina_math", "deepscaler", "leetcode_code", "taco_code"]
MAX_PROBLEM, MAX_ANSWER, MAX_TEST_BYTES = 8000, 200, 64 << 20
WS = re.compile(r"\s+")


def key_of(problem):
    return hashlib.sha256(WS.sub("", unicodedata.normalize("NFKC", problem).lower()).encode()).hexdigest()[:32]


def uid_of(source, key, gt):
    return f"{source}-" + hashlib.sha256(key.encode() + b"\0" + gt.encode()).hexdigest()[:16]


def check_problem(p):
    if not isinstance(p, str):
        return "malformed_row"
    if p.strip() == "":
        return "missing_problem"
    if len(p) > MAX_PROBLEM:
        return "problem_too_long"
    return None


def check_answer(a):
    if a is None:
        return "malformed_row"
    a = str(a).strip()
    if a == "":
        return "empty_answer"
    if a.lower() in ("proof", "notfound"):
        return "non_verifiable_answer"
    if len(a) > MAX_ANSWER:
        return "answer_too_long"
    return None


def math_rows(source, df, file):
    cands, rejects = [], []
    extra = "question_type" in df.columns
    for row, r in enumerate(df.itertuples(index=False)):
        d = r._asdict()
        reason = None
        if extra:
            if d["question_type"] != "math-word-problem":
                reason = "question_type"
            elif d["problem_is_valid"] != "Yes" or d["solution_is_valid"] != "Yes":
                reason = "invalid_flag"
        reason = reason or check_problem(d.get("problem")) or check_answer(d.get("answer"))
        if reason:
            rejects.append((source, file, row, reason))
            continue
        gt = str(d["answer"]).strip()
        key = key_of(d["problem"])
        cands.append((uid_of(source, key, gt), source, "math", key, d["problem"], None, gt, file, row))
    return cands, rejects


def taco_rows(source, df, file):
    cands, rejects = [], []
    for row, (q, starter, io) in enumerate(zip(df["question"], df["starter_code"], df["input_output"])):
        reason = check_problem(q)
        if not reason:
            if not io or not io.strip():
                reason = "no_tests"
            elif len(io.encode()) > MAX_TEST_BYTES:
                reason = "tests_too_large"
            else:
                try:
                    v = json.loads(io)
                    ins, outs = v.get("inputs"), v.get("outputs")
                    if not isinstance(ins, list) or not isinstance(outs, list) or len(ins) != len(outs):
                        reason = "invalid_tests"
                    elif len(ins) == 0:
                        reason = "no_tests"
                except ValueError:
                    reason = "bad_test_json"
        if reason:
            rejects.append((source, file, row, reason))
            continue
        key = key_of(q)
        cands.append((uid_of(source, key, io), source, "code", key, q, starter or None, io, file, row))
    return cands, rejects


def leetcode_rows(source, df, file):
    cands, rejects = [], []
    for row, d in enumerate(df.to_dict("records")):
        reason = check_problem(d.get("problem_description"))
        if not reason and not all(isinstance(d.get(f), str) for f in ("prompt", "test", "entry_point")):
            reason = "malformed_row"
        if not reason and not re.search(r"\bdef\s+check\s*\(", d["test"]):
            reason = "no_tests"
        if reason:
            rejects.append((source, file, row, reason))
            continue
        gt = json.dumps({"kind": "leetcode", "prompt": d["prompt"], "test": d["test"], "entry_point": d["entry_point"]}, separators=(",", ":"), ensure_ascii=False)
        key = key_of(d["problem_description"])
        cands.append((uid_of(source, key, gt), source, "code", key, d["problem_description"], d.get("starter_code"), gt, file, row))
    return cands, rejects


def ingest(src):
    out = {}
    rel = lambda p: os.path.relpath(p, src)
    p = f"{src}/deepscaler/deepscaler.json"
    out["deepscaler"] = math_rows("deepscaler", pd.read_json(p, dtype=False), rel(p))
    p = f"{src}/omni_math/test.jsonl"
    out["omni_math"] = math_rows("omni_math", pd.read_json(p, lines=True, dtype=False), rel(p))
    c, r = [], []
    cols = ["problem", "answer", "question_type", "problem_is_valid", "solution_is_valid", "synthetic", "problem_type"]
    for p in sorted(glob.glob(f"{src}/numina_math/data/train-*.parquet")):
        cc, rr = math_rows("numina_math", pq.read_table(p, columns=cols).to_pandas(), rel(p))
        c += cc
        r += rr
    out["numina_math"] = (c, r)
    c, r = [], []
    for p in sorted(glob.glob(f"{src}/taco/train/data-*.arrow")):
        with pa.memory_map(p) as f:
            t = ipc.open_stream(f).read_all().select(["question", "starter_code", "input_output"])
        cc, rr = taco_rows("taco_code", t.to_pandas(), rel(p))
        c += cc
        r += rr
    out["taco_code"] = (c, r)
    p = f"{src}/leetcode/LeetCodeDataset-train.jsonl"
    out["leetcode_code"] = leetcode_rows("leetcode_code", pd.read_json(p, lines=True, dtype=False), rel(p))
    return out


CAND_COLS = ["uid", "data_source", "ability", "content_key", "problem", "starter_code", "ground_truth", "source_file", "source_row"]


def select(ingested):
    owner, chosen, rejects = {}, [], []
    order = [s for s in PRIORITY if s in ingested]
    for source in order:
        df = pd.DataFrame(ingested[source][0], columns=CAND_COLS)
        df = df.sort_values(["content_key", "uid", "source_file", "source_row"], kind="stable")
        dup = df.duplicated("content_key", keep="first")
        for r in df[dup].itertuples(index=False):
            rejects.append((source, r.source_file, r.source_row, "duplicate_within_source"))
        df = df[~dup]
        across = df["content_key"].map(lambda k: k in owner)
        for r in df[across].itertuples(index=False):
            rejects.append((source, r.source_file, r.source_row, "duplicate_across_sources"))
        df = df[~across]
        for k, u in zip(df["content_key"], df["uid"]):
            owner[k] = f"{source} {u}"
        if len(df) < TAKE:
            raise SystemExit(f"shortfall in {source}: {len(df)} < {TAKE}")
        df = df.assign(rank_key=[hashlib.sha256(f"{SEED}\0{source}\0{u}".encode()).hexdigest() for u in df["uid"]])
        df = df.sort_values(["rank_key", "uid"]).head(TAKE).reset_index(drop=True)
        df["rank"] = range(len(df))
        chosen.append(df)
    sel = pd.concat(chosen).sort_values(["data_source", "rank"], kind="stable").reset_index(drop=True)
    return sel, rejects


def render(template, problem, starter):
    block = f"```python\n{starter.rstrip()}\n```\n" if isinstance(starter, str) and starter.strip() else ""
    return template.replace("{problem}", problem).replace("{starter_code_block}", block)


def write(sel, rejects, outdir):
    os.makedirs(outdir, exist_ok=True)
    math_t = "{problem}\n\nGive the final answer as \\boxed{answer}."
    code_t = "{problem}\n\n{starter_code_block}Write a complete Python 3 solution."
    rows = []
    for i, r in enumerate(sel.itertuples(index=False)):
        t = math_t if r.ability == "math" else code_t
        rows.append({
            "data_source": r.data_source,
            "prompt": [{"role": "user", "content": render(t, r.problem, r.starter_code)}],
            "ability": r.ability,
            "reward_model": {"style": "rule", "ground_truth": r.ground_truth},
            "extra_info": {"split": "train", "index": i, "uid": r.uid, "source_file": r.source_file, "source_row": int(r.source_row)},
            "agent_name": "tool_agent",
        })
    pq.write_table(pa.Table.from_pylist(rows), f"{outdir}/rl.parquet", compression="zstd")
    rej = pd.DataFrame(rejects, columns=["source", "file", "row", "reason"])
    pq.write_table(pa.Table.from_pandas(rej, preserve_index=False), f"{outdir}/rejects.parquet", compression="zstd")
    return len(rows), len(rej)


def main():
    src, outdir = sys.argv[1], sys.argv[2]
    t0 = time.perf_counter()
    ing = ingest(src)
    t1 = time.perf_counter()
    sel, sel_rejects = select({k: v for k, v in ing.items()})
    t2 = time.perf_counter()
    all_rejects = [x for v in ing.values() for x in v[1]] + sel_rejects
    n, nrej = write(sel, all_rejects, outdir)
    t3 = time.perf_counter()
    print(json.dumps({
        "ingest_s": t1 - t0, "select_s": t2 - t1, "write_s": t3 - t2, "total_s": t3 - t0,
        "read": {k: len(v[0]) + len(v[1]) for k, v in ing.items()}, "rl_rows": n, "rejects_rows": nrej,
    }))


if __name__ == "__main__":
    main()
