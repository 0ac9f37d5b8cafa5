"""Loads an exported model directory with transformers exactly as a user would (AutoModelForCausalLM and
AutoTokenizer .from_pretrained, nothing else), and prints JSON: the next-token log-probs of the given token ids,
the tokenizer's chat-template rendering of a small conversation, and the eos id of generation_config.

usage: hf_logprobs.py <model_dir> <ids as JSON>
"""
import json
import sys

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

model_dir, ids = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForCausalLM.from_pretrained(model_dir, torch_dtype=torch.float32)
tok = AutoTokenizer.from_pretrained(model_dir)
gen = GenerationConfig.from_pretrained(model_dir)
with torch.no_grad():
    logits = model(torch.tensor([ids])).logits[0].double()
logp = torch.log_softmax(logits, -1)[:-1].gather(1, torch.tensor(ids[1:]).unsqueeze(1)).squeeze(1)
text = tok.apply_chat_template([{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}], tokenize=False)
print(json.dumps({"logp": logp.tolist(), "chat": text, "eos": gen.eos_token_id, "vocab": len(tok)}))
