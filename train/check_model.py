"""Check model.py's forward (and export.py's safetensors reader) against the golden tiny-gqa logits.

Loads ../shared/models/tiny-gqa-hf into model.Llama and compares the logits of the golden sequence
with ../shared/golden/tiny-gqa/logits/{fp,v1,v2}.f32.bin (v1/v2 = every linear PhaseQuant V1/V2).
Usage: /usr/bin/python3 train/check_model.py
"""
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from export import read_safetensors  # noqa: E402
from model import Config, Llama  # noqa: E402
from train import baked  # noqa: E402

SHARED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared")


def main():
    torch.set_num_threads(1)
    hf = os.path.join(SHARED, "models", "tiny-gqa-hf")
    cfg = json.load(open(os.path.join(hf, "config.json")))
    c = Config(vocab_size=cfg["vocab_size"], dim=cfg["hidden_size"], n_layers=cfg["num_hidden_layers"],
               n_heads=cfg["num_attention_heads"], n_kv_heads=cfg["num_key_value_heads"],
               ffn_dim=cfg["intermediate_size"], ctx=cfg["max_position_embeddings"],
               rms_norm_eps=cfg["rms_norm_eps"], rope_theta=cfg["rope_theta"],
               tie_embeddings=cfg["tie_word_embeddings"])
    model = Llama(c)
    sd = {k: torch.from_numpy(v.copy()) for k, v in read_safetensors(os.path.join(hf, "model.safetensors")).items()}
    ours = model.hf_state_dict()
    assert sorted(sd) == sorted(ours), (sorted(set(sd) ^ set(ours)))
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(sd[name if name.startswith("lm_head") else "model." + name])
    man = json.load(open(os.path.join(SHARED, "golden", "manifest.json")))["tiny_gqa"]
    ids = torch.tensor(man["sequence"]["ids"])[None]
    ok = True
    for variant, mode in (("fp", "fp"), ("v1", "pq1"), ("v2", "pq2")):
        info = man["variants"][variant]["logits"]
        gold = np.fromfile(os.path.join(SHARED, "golden", info["file"]), dtype="<f4").reshape(ids.shape[1], -1)
        with torch.no_grad():
            logits = baked(model, mode)(ids)[0].numpy()
        d = float(np.abs(logits - gold).max())
        good = d < 20 * info["torch_float32_forward_max_abs_diff"] + 1e-5
        ok &= good
        print(f"tiny-gqa {variant}: max |logit diff| {d:.2e} (torch float32 reference {info['torch_float32_forward_max_abs_diff']:.1e}) "
              f"{'OK' if good else 'FAIL'}")
    print("ALL OK" if ok else "FAILED")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
