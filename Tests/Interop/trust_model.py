#!/usr/bin/python3
"""M-Sec's trust and reputation model, evaluated directly from its definitions.

Independent of Agora's Swift implementation (AgoraTrust): the property test feeds both the
same random interaction logs and compares. Input on stdin, a JSON array of cases:
  {"interactions": [[s, w, t], ...] (oldest first), "fading": "last:N" | "half-life:SECONDS",
   "now": T, "weights": [a, b, c, d], "own": n, "fullTrustAfter": k,
   "reputation": R, "reliability": R', "requests": n, "popularityHalfAt": k}
Output on stdout, one object per case: {"mu", "sigma", "T", "D"}.

Definitions (M-Sec, "Trust and Reputation model"):
  W = sum(w*f); mu = sum(s*w*f) / W; sigma = sqrt(sum(s^2*w*f) * W - sum(s*w*f)^2) / W
  T = mu - sigma (0 with no interaction that counts); D = a*T + b*R + c*R' + d*P
Agora's documented choices, written out again here:
  fading last:N -> f = 1 for the N newest, 0 before; half-life:H -> f = 2 ** (-(now - t) / H), age >= 0
  P = n / (n + k); with fewer than k own interactions, a' = a * n / k and b' = b + (a - a');
  weights are divided by their sum; a negative radicand from rounding counts as 0.
"""
import json
import math
import sys


def fading_factors(interactions, fading, now):
    kind, value = fading.split(":")
    value = int(value)
    if kind == "last":
        n = len(interactions)
        return [1.0 if i >= n - value else 0.0 for i in range(n)]
    return [2.0 ** (-max(0, now - t) / value) for (_, _, t) in interactions]


def trust(interactions, fading, now):
    f = fading_factors(interactions, fading, now)
    pairs = [(s, w * fi) for (s, w, _), fi in zip(interactions, f) if fi > 0]
    W = sum(wf for _, wf in pairs)
    if W <= 0:
        return 0.0, 0.0, 0.0
    S1 = sum(s * wf for s, wf in pairs)
    S2 = sum(s * s * wf for s, wf in pairs)
    mu = S1 / W
    sigma = math.sqrt(max(0.0, S2 * W - S1 * S1)) / W
    return mu, sigma, mu - sigma


def main():
    out = []
    for case in json.load(sys.stdin):
        mu, sigma, T = trust(case["interactions"], case["fading"], case["now"])
        a, b, c, d = case["weights"]
        total = a + b + c + d
        a, b, c, d = a / total, b / total, c / total, d / total
        n, k = case["own"], case["fullTrustAfter"]
        if k > 0 and n < k:
            adapted = a * n / k
            b, a = b + (a - adapted), adapted
        requests, half = case["requests"], case["popularityHalfAt"]
        P = requests / (requests + max(1, half)) if requests > 0 else 0.0
        D = a * T + b * case["reputation"] + c * case["reliability"] + d * P
        out.append({"mu": mu, "sigma": sigma, "T": T, "D": D})
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
