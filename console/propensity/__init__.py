"""Recall propensity: who is still reachable, and what they are worth.

Buy-till-you-die models fitted by maximum likelihood on each workspace's own order history:

- `bgnbd` — BG/NBD (Fader, Hardie & Lee 2005): purchase rate λ ~ Gamma(r, α), drop-out after each purchase
  with probability p ~ Beta(a, b).
- `paretonbd` — Pareto/NBD (Schmittlein, Morrison & Colombo 1987): drop-out at any time with rate μ ~ Gamma(s, β).
  Used for P(alive) of customers with no repeat purchase, to whom BG/NBD gives 1.
- `gammagamma` — spend per order (Fader, Hardie & Lee 2005 note): for expected value.

`summary` turns order events into per-customer (x, t_x, T, monetary) with set-based SQL; `fit` fits and stores;
`calibration` checks a fit against a holdout period; `scoring` writes the `scores` table; `targeting` ranks an
audience for a budget. The model modules depend on numpy and scipy only.
"""
