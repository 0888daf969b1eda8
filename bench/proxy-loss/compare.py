# Per-group relative proxy loss (config.json "relative_proxy_loss") and code agreement between two
# checkpoints of the same model and settings.
import json, sys
import numpy as np
from safetensors.numpy import load_file

def groups(d):
    c = json.load(open(d + "/config.json"))
    return {(l["layer"], l["group"]): l["relative_proxy_loss"] for l in c["quipsharp"]["layers"]}

def main(before, after, label):
    b, a = groups(before), groups(after)
    tb, ta = load_file(before + "/model.safetensors"), load_file(after + "/model.safetensors")
    qk = [k for k in tb if k.endswith("Qidxs")]
    same = sum(int(np.array_equal(tb[k], ta[k])) for k in qk)
    words = sum(tb[k].size for k in qk)
    eq = sum(int((tb[k] == ta[k]).sum()) for k in qk)
    rel = []
    rows = []
    for key in sorted(b):
        r = (a[key] - b[key]) / b[key]
        rel.append(r)
        rows.append((key, b[key], a[key], r))
    rel = np.array(rel)
    out = {"model": label, "groups": len(rel), "improved": int((rel < 0).sum()),
           "worsened": int((rel > 0).sum()), "unchanged": int((rel == 0).sum()),
           "mean_relative_change": float(rel.mean()), "max_relative_change": float(rel.max()),
           "min_relative_change": float(rel.min()),
           "mean_rel_proxy_loss_before": float(np.mean(list(b.values()))),
           "mean_rel_proxy_loss_after": float(np.mean(list(a.values()))),
           "packed_code_tensors_identical": f"{same}/{len(qk)}",
           "packed_code_words_identical": f"{eq}/{words}"}
    for key, x, y, r in rows:
        print(f"  layer {key[0]} {key[1]:5s} before {x:.9f} after {y:.9f} change {r:+.3e}")
    print(json.dumps(out))

main(sys.argv[1], sys.argv[2], sys.argv[3])
