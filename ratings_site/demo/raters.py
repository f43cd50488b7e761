"""Simulated raters who use the site over real HTTP, exactly as a browser would:
open the invitation, start, then answer through the rating API until done.

A simulated rater's score is the image's latent naturalness (known to the simulator)
plus the rater's own bias plus noise, rounded and clipped to 0-10.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import requests


@dataclass
class SimulatedRater:
    name: str
    bias: float
    noise: float = 1.0


def rater_run(base_url: str, invitation_token: str, rater: SimulatedRater, latent_by_item: dict[int, float],
              rng: np.random.Generator) -> dict:
    """Rate one batch; returns the completion code and number of ratings."""
    session = requests.Session()
    start = session.get(f"{base_url}/r/{invitation_token}/", timeout=30)
    start.raise_for_status()
    response = session.post(
        f"{base_url}/r/{invitation_token}/",
        data={"csrfmiddlewaretoken": session.cookies.get("csrftoken", ""), "consent": "yes"},
        headers={"Referer": f"{base_url}/r/{invitation_token}/"},
        allow_redirects=False,
        timeout=30,
    )
    if response.status_code != 302:
        raise RuntimeError(f"{rater.name} could not start: HTTP {response.status_code}")
    token = response.headers["Location"].rstrip("/").split("/")[-1]
    ratings = 0
    while True:
        nxt = session.get(f"{base_url}/api/rate/{token}/next/", timeout=30).json()
        if nxt["done"]:
            return {"rater": rater.name, "completion_code": nxt["completion_code"], "ratings": ratings}
        latent = latent_by_item[nxt["item"]]
        score = int(np.clip(np.rint(latent + rater.bias + rng.normal(0, rater.noise)), 0, 10))
        answer = session.post(f"{base_url}/api/rate/{token}/ratings/", json={"item": nxt["item"], "score": score}, timeout=30)
        if answer.status_code not in (200, 201):
            raise RuntimeError(f"{rater.name}: rating refused: {answer.text}")
        ratings += 1
