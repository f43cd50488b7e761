"""SIMULATED lineup raters who use the site over real HTTP, as a browser would: open the
invitation, start, then answer each lineup through the page's own form until done.

A simulated rater sees only what a person sees (the slot images, never which model made
them) and prefers the sharpest one: log sharpness (variance of the Laplacian) plus the
rater's own Gumbel noise, so raters disagree as people do.
"""
from __future__ import annotations

import io
import re

import numpy as np
import requests
from PIL import Image

LINEUP_FIELD = re.compile(r'name="lineup" value="(\d+)"')
SLOT_IMAGE = re.compile(r'data-slot="(\d+)"[^>]*>\s*<img class="timed" src="([^"]+)"')
COMPLETION = re.compile(r'id="completion-code">([^<]+)<')


def sharpness(data: bytes) -> float:
    grey = np.asarray(Image.open(io.BytesIO(data)).convert("L"), dtype=np.float64)
    lap = 4 * grey[1:-1, 1:-1] - grey[:-2, 1:-1] - grey[2:, 1:-1] - grey[1:-1, :-2] - grey[1:-1, 2:]
    return float(lap.var())


def _post(session: requests.Session, url: str, data: dict) -> requests.Response:
    data = {"csrfmiddlewaretoken": session.cookies.get("csrftoken", ""), **data}
    return session.post(url, data=data, headers={"Referer": url}, allow_redirects=False, timeout=30)


def lineup_rater_run(base_url: str, invitation_token: str, *, noise: float, rng: np.random.Generator) -> dict:
    session = requests.Session()
    session.get(f"{base_url}/r/{invitation_token}/", timeout=30).raise_for_status()  # the instructions
    started = _post(session, f"{base_url}/r/{invitation_token}/", {})
    if started.status_code != 302:
        raise RuntimeError(f"could not start: HTTP {started.status_code}")
    url = base_url + session.get(base_url + started.headers["Location"], allow_redirects=False, timeout=30).headers["Location"]
    votes = 0
    while True:
        page = session.get(url, allow_redirects=False, timeout=30)
        if page.status_code == 302:
            done = session.get(base_url + page.headers["Location"], timeout=30).text
            return {"votes": votes, "completion_code": COMPLETION.search(done).group(1).strip()}
        page.raise_for_status()
        lineup = LINEUP_FIELD.search(page.text).group(1)
        slots = SLOT_IMAGE.findall(page.text)
        if not slots:
            raise RuntimeError("the lineup page showed no images")
        scores = [np.log(sharpness(session.get(base_url + src, timeout=30).content) + 1e-6) + noise * rng.gumbel()
                  for _, src in slots]
        answer = _post(session, url, {"lineup": lineup, "choice": slots[int(np.argmax(scores))][0]})
        if answer.status_code != 302:
            raise RuntimeError(f"vote refused: HTTP {answer.status_code}")
        votes += 1
