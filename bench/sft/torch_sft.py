#!/usr/bin/env python3
"""PyTorch + transformers baseline of the SFT stage's work, for bench/sft/run.ts (same invocation, same machine):

  tokenize  read the same parquet (pyarrow) and JSONL files, turn tool-call arguments into objects, and render +
            tokenize every conversation with AutoTokenizer.apply_chat_template(messages, tools=...), right-truncated
            at max_length (transformers has no assistant mask for a template without generation tags, so training
            below uses the stage's own token table: the same ids and masks)
  train     the stage's batches in the stage's order (a JSON plan from run.ts): per optimizer step one right-padded
            batch, masked NLL sum(CE * mask) / sum(mask) on next-token labels, backward, global grad-norm clip,
            AdamW(betas, weight decay) at the same lr, f32, torch.set_num_threads(threads)

usage: torch_sft.py <plan.json>   prints one JSON object: {"tokenize_s", "train_s", "tokens", "steps", "losses"}
"""
import json
import sys
import time

import pyarrow.ipc as ipc
import pyarrow.parquet as pq
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer


def rows_of(path):
    if path.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    out = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return out


def clean(messages):
    out = []
    for m in messages:
        m = {k: v for k, v in m.items() if v is not None}
        for c in m.get("tool_calls") or []:
            a = c["function"]["arguments"]
            if isinstance(a, str):
                try:
                    c["function"]["arguments"] = json.loads(a)
                except json.JSONDecodeError:
                    pass
        out.append(m)
    return out


def main():
    plan = json.load(open(sys.argv[1]))
    torch.set_num_threads(plan["threads"])
    torch.set_num_interop_threads(1)
    torch.manual_seed(plan["seed"])
    tok = AutoTokenizer.from_pretrained(plan["model_dir"])
    t0 = time.perf_counter()
    n = 0
    for path in plan["files"]:
        for r in rows_of(path):
            try:
                ids = tok.apply_chat_template(clean(r["messages"]), tools=r.get("tools"), tokenize=True)
                n += len(ids[: plan["max_length"]])
            except Exception:  # the rows the stage rejects
                pass
    tokenize_s = time.perf_counter() - t0

    table = ipc.open_file(plan["tokens"]).read_all()
    ids_col = table.column("input_ids").to_pylist()
    mask_col = table.column("loss_mask").to_pylist()
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(plan["model_dir"]), torch_dtype=torch.float32)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=plan["lr"], betas=tuple(plan["betas"]), weight_decay=plan["weight_decay"])
    t1 = time.perf_counter()
    tokens = 0
    losses = []
    for batch in plan["batches"]:
        T = max(len(ids_col[i]) for i in batch)
        inp = torch.zeros(len(batch), T, dtype=torch.long)
        att = torch.zeros(len(batch), T, dtype=torch.long)
        msk = torch.zeros(len(batch), T)
        for b, i in enumerate(batch):
            L = len(ids_col[i])
            inp[b, :L] = torch.tensor(ids_col[i])
            att[b, :L] = 1
            msk[b, :L] = torch.tensor(mask_col[i], dtype=torch.float32)
            tokens += L
        logits = model(input_ids=inp, attention_mask=att).logits[:, :-1]
        m = msk[:, 1:]
        ce = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), inp[:, 1:].reshape(-1), reduction="none").view_as(m)
        loss = (ce * m).sum() / m.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), plan["grad_clip"])
        opt.step()
        losses.append(loss.item())
    train_s = time.perf_counter() - t1
    print(json.dumps({"tokenize_s": tokenize_s, "train_s": train_s, "tokens": tokens, "tokenized_tokens": n, "steps": len(plan["batches"]), "losses": losses}))


if __name__ == "__main__":
    main()
