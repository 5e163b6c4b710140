"""A synthetic MyAnimeList: the same files as the Kaggle dataset, with the truth kept.

The generator writes ``AnimeList.csv``, ``UserList.csv``, ``users_cleaned.csv``,
``UserAnimeList.csv`` and ``watching_status.csv`` with the column names, value
formats and quirks of the real files, so the loader and the chapters cannot
tell the difference, except that here we *know* how every number was made.
That knowledge is saved beside the files (``truth/`` and ``generator.json``).
This module is the generative model; :mod:`course_utils.data.kaggle_files` writes
what it draws in the Kaggle files' format, with their quirks.

How the data is made
--------------------
*Catalogue.* Anime come in franchises (a TV series, then sequels, movies,
OVAs, specials) that fans watch in order. Each anime has 1–4 of 40 genres, a
long-tailed popularity, a bias ``b_i`` and latent factors ``q_i`` built from
its genres (so genres carry information about taste).

*Users.* Each user has latent factors ``p_u``, a bias ``b_u``, a long-tailed
number of list entries, a habit of continuing franchises (``continuation``)
and a habit of scoring what they watch.

*Scores* (eq. 1 below) follow a biased latent-factor model with Gaussian
noise, rounded and clipped to 1–10::

    x_ui  = mu + b_u + b_i + p_u . q_i              (the true, pre-rounding score)
    r_ui  = clip(round(x_ui + e), 1, 10),  e ~ N(0, noise_sd^2)          (1)

*Watch order.* A user's history is drawn step by step. After an anime, the
next entry of the same franchise follows with probability ``continuation``
(unless the user dropped the anime); otherwise the user picks an unwatched
anime with probability proportional to::

    exp(log popularity_i - sequel_penalty_i + taste_beta * affinity_u,h(i))   (2)

where the affinity uses ``p_u`` plus a drift for the user's current *phase*
(every :data:`PHASE_LEN` picks the taste drifts, so recent items say more about
the next one than old ones). Sampling without replacement from (2) is done
with the Gumbel-top-k trick: sorting ``logit + Gumbel noise`` gives the order in
which a user would pick items one at a time.

Example
-------
>>> from course_utils.data.generate import generate
>>> folder = generate(n_users=50, n_items=80, mean_history=12, out_dir=tmp / "tiny")  # doctest: +SKIP
>>> sorted(p.name for p in folder.glob("*.csv"))  # doctest: +SKIP
['AnimeList.csv', 'UserAnimeList.csv', 'UserList.csv', 'users_cleaned.csv', 'watching_status.csv']
"""
from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from filelock import FileLock

from course_utils import paths
from course_utils.config import get_profile
from course_utils.data import schema
from course_utils.data.kaggle_files import _anime_frame, _list_rows, _user_frame, _write_rows

GENERATOR_VERSION = 3
CHUNK_USERS = 1000  # users per chunk: fixed, so the output never depends on memory
PHASE_LEN = 40  # picks per taste phase
END_DATE = np.datetime64("2018-05-31T23:59:59", "s")  # the crawl of the real dataset
START_DATE = np.datetime64("2006-01-01T00:00:00", "s")


@dataclass(frozen=True)
class GenParams:
    """The knobs of the generative model (all of them are part of the truth)."""

    n_factors: int = 4
    # relative strength of the latent dimensions (a decaying spectrum, as in real data)
    factor_weights: tuple[float, ...] = (1.0, 0.7, 0.45, 0.25)
    mu: float = 6.8
    user_bias_sd: float = 0.65
    item_bias_sd: float = 0.5
    interaction_sd: float = 0.85  # standard deviation of p_u . q_i
    noise_sd: float = 0.9
    taste_beta: float = 1.6
    phase_drift: float = 0.6  # drift of taste per phase, relative to p_u
    sequel_penalty: float = 2.5  # sequels are rarely picked before their prequel
    continuation_mean: float = 0.8
    plan_share: float = 0.1  # share of list entries that are "plan to watch"
    scored_share: float = 0.85  # mean probability of scoring a completed anime
    never_scoring_share: float = 0.05  # users who never give a score
    # missing not at random: log-odds of scoring, per point of the latent score above mu
    # (0: whether a score is left out does not depend on the opinion, the default)
    score_missing_slope: float = 0.0
    # quirks of the raw files (shares of rows / users)
    duplicate_share: float = 0.003
    unknown_anime_share: float = 0.002
    invalid_status_share: float = 0.0003
    episodes_overflow_share: float = 0.004
    last_online_1900_share: float = 0.02
    not_cleaned_user_share: float = 0.03


@dataclass(frozen=True)
class Size:
    """How much data to generate."""

    n_users: int
    n_items: int
    mean_history: float  # mean number of list entries per user (all statuses)

    @classmethod
    def of_profile(cls, profile: str) -> "Size":
        """The size of a profile (``ci``, ``book``; ``full`` is the scale size)."""
        d = get_profile(profile)["data"]
        return cls(int(d["n_users"]), int(d["n_items"]), float(d["mean_history"]))


def generated_dir(profile: str, seed: int) -> Path:
    """Where :func:`generate` puts the files of a profile and seed by default."""
    return paths.data_dir() / "generated" / f"{profile}-seed{seed}"


# ----------------------------------------------------------------------------
# the catalogue
# ----------------------------------------------------------------------------
_WORDS = ("Kaze", "Hikari", "Sora", "Yume", "Tsubasa", "Hoshi", "Kokoro", "Mahou",
          "Kage", "Tenshi", "Akuma", "Gakuen", "Sekai", "Densetsu", "Kiseki", "Ryuu",
          "Tsuki", "Hana", "Umi", "Yoru", "Koi", "Kuro", "Shiro", "Aoi", "Gin", "Kin",
          "Honoo", "Mizu", "Tetsu", "Ken", "Yuusha", "Majo", "Oukoku", "Senshi",
          "Kimi", "Boku", "Ashita", "Kioku", "Sakura", "Yuki", "Ame", "Niji", "Hime",
          "Oni", "Kitsune", "Neko", "Inu", "Tora", "Shinobi", "Kaizoku")
_TAILS = ("Monogatari", "Senki", "Gakuen", "Densetsu", "no Kiseki", "Days",
          "Chronicle", "Project", "Quest", "Club", "Saga", "Zero", "Heart", "Fight!")
_ENGLISH = ("Wings", "Light", "Sky", "Dream", "Star", "Heart", "Shadow", "Angel",
            "World", "Legend", "Miracle", "Dragon", "Moon", "Flower", "Sea", "Night")
_KANA = tuple("アイウエオカキクケコサシスセソタチツテトナニヌネノハヒフヘホマミムメモヤユヨラリルレロワン")
_STUDIOS = ("Sunrise", "Madhouse", "Toei Animation", "Production I.G", "J.C.Staff",
            "Bones", "Kyoto Animation", "A-1 Pictures", "Shaft", "Studio Deen",
            "Pierrot", "TMS Entertainment", "Gainax", "Trigger", "Wit Studio", "OLM")
_SOURCES = ("Manga", "Original", "Light novel", "Visual novel", "Game", "4-koma manga",
            "Novel", "Unknown")
_RATINGS = ("PG-13 - Teens 13 or older", "R - 17+ (violence & profanity)",
            "G - All Ages", "PG - Children", "R+ - Mild Nudity")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SEASONS = ("Winter", "Winter", "Winter", "Spring", "Spring", "Spring", "Summer",
            "Summer", "Summer", "Fall", "Fall", "Fall")


@dataclass
class Catalogue:
    """The anime, in generation order (index ``i`` = generator item index)."""

    anime_id: np.ndarray
    franchise: np.ndarray
    franchise_pos: np.ndarray
    successor: np.ndarray  # generator index of the next entry of the franchise, or -1
    type: np.ndarray
    episodes: np.ndarray
    genres: list[tuple[str, ...]]
    logpop: np.ndarray
    sequel_penalty: np.ndarray
    bias: np.ndarray
    factors: np.ndarray
    aired: np.ndarray  # datetime64[D] start of airing
    titles: list[str]
    extra: pd.DataFrame = field(repr=False)  # the remaining AnimeList columns


def _dim_scale(prm: GenParams) -> np.ndarray:
    """Per-dimension scale of p and q so that var(p . q) = interaction_sd**2."""
    w = np.asarray(prm.factor_weights, dtype=float)
    if len(w) != prm.n_factors:
        raise ValueError(f"factor_weights has {len(w)} values for n_factors={prm.n_factors}")
    return np.sqrt(w / w.mean())


def _make_catalogue(rng: np.random.Generator, n_items: int, prm: GenParams) -> Catalogue:
    k = prm.n_factors
    # franchise sizes: about half of the anime stand alone, the rest come in series
    sizes = np.where(rng.random(n_items) < 0.55, 1, 1 + np.minimum(rng.geometric(0.38, n_items), 8))
    sizes = sizes[: int(np.searchsorted(np.cumsum(sizes), n_items)) + 1]
    sizes[-1] -= int(sizes.sum() - n_items)
    sizes = sizes[sizes > 0]
    n_fr = len(sizes)
    franchise = np.repeat(np.arange(n_fr), sizes)
    starts = np.cumsum(sizes) - sizes
    pos = np.arange(n_items) - np.repeat(starts, sizes)
    successor = np.where(pos + 1 < np.repeat(sizes, sizes), np.arange(n_items) + 1, -1)

    # types and episodes
    first_types = rng.choice(len(schema.ANIME_TYPES), n_items, p=[0.66, 0.1, 0.1, 0.02, 0.08, 0.04])
    later_types = rng.choice(len(schema.ANIME_TYPES), n_items, p=[0.45, 0.2, 0.15, 0.15, 0.05, 0.0])
    type_idx = np.where(pos == 0, first_types, later_types)
    types = np.asarray(schema.ANIME_TYPES)[type_idx]
    tv_eps = rng.choice([12, 13, 24, 25, 26, 10, 11, 50, 51, 64, 75, 101, 148, 220], n_items,
                        p=[.3, .2, .12, .1, .1, .04, .04, .03, .02, .01, .01, .01, .01, .01])
    eps = np.select(
        [types == "TV", types == "Movie", types == "OVA", types == "Special", types == "ONA"],
        [tv_eps, 1, rng.choice([1, 2, 3, 4, 6, 12], n_items), rng.choice([1, 1, 2, 6], n_items),
         rng.integers(1, 25, n_items)], 1)

    # airing dates: franchises start between 1975 and 2018, entries follow each other
    root_year = 2018.3 - 42 * rng.beta(1.0, 3.0, n_fr)
    gaps = np.where(pos == 0, 0.0, rng.uniform(0.3, 3.0, n_items))
    fr_gap = np.cumsum(gaps) - np.repeat((np.cumsum(gaps) - gaps)[starts], sizes)
    year = np.minimum(np.repeat(root_year, sizes) + fr_gap, 2018.35)
    aired = (np.datetime64("1970-01-01", "D")
             + ((year - 1970) * 365.25).astype(np.int64).astype("timedelta64[D]"))
    airing = (year > 2017.9) & (types == "TV")
    eps = np.where(airing & (rng.random(n_items) < 0.5), 0, eps)  # 0 = unknown, still airing

    # MAL ids: unique, growing with the airing date (with some noise)
    order = np.argsort(year + rng.normal(0, 1.0, n_items), kind="stable")
    ids = np.sort(rng.choice(np.arange(1, 38_000), n_items, replace=False))
    anime_id = np.empty(n_items, np.int64)
    anime_id[order] = ids

    # popularity: Zipf-like over franchises, falling along each franchise
    fr_pop = -1.1 * np.log(rng.permutation(n_fr) + 1.0) + rng.normal(0, 0.3, n_fr)
    type_pen = np.select([types == "Special", types == "Music", types == "OVA", types == "ONA"],
                         [1.2, 2.0, 0.6, 0.4], 0.0)
    logpop = np.repeat(fr_pop, sizes) - 0.35 * pos - type_pen
    logpop -= logpop.max()
    sequel_penalty = np.where(pos > 0, prm.sequel_penalty, 0.0)

    # genres: 1-4 per franchise, drawn with MAL-like frequencies; entries share them
    n_g = len(schema.GENRES)
    g_weight = rng.dirichlet(np.full(n_g, 0.8)) + 0.002
    g_weight[[0, 3]] += 0.12  # Action and Comedy are the most common
    g_weight /= g_weight.sum()
    n_genres = rng.choice([1, 2, 3, 4], n_fr, p=[0.2, 0.35, 0.3, 0.15])
    gumbel = -np.log(-np.log(rng.random((n_fr, n_g))))
    ranked = np.argsort(-(np.log(g_weight) + gumbel), axis=1)
    fr_genres = [tuple(sorted(ranked[f, : n_genres[f]])) for f in range(n_fr)]
    genre_idx = [fr_genres[f] for f in franchise]
    genres = [tuple(schema.GENRES[g] for g in gs) for gs in genre_idx]

    # latent factors: a genre part plus a franchise part plus a small entry part
    sd_q = np.sqrt(prm.interaction_sd / np.sqrt(k))
    emb = rng.normal(0, 1, (n_g, k))
    multi_hot = np.zeros((n_fr, n_g))
    for f, gs in enumerate(fr_genres):
        multi_hot[f, list(gs)] = 1.0 / np.sqrt(len(gs))
    fr_q = 0.75 * multi_hot @ emb + 0.66 * rng.normal(0, 1, (n_fr, k))
    fr_q /= fr_q.std(axis=0, keepdims=True)
    # franchise part (sd 1) + entry part (sd 0.3), divided by sqrt(1 + 0.3**2) = 1.044
    factors = (np.repeat(fr_q, sizes, axis=0) + 0.3 * rng.normal(0, 1, (n_items, k))) * sd_q / 1.044
    factors *= _dim_scale(prm)
    # bias: popular franchises are rated a little higher
    z_pop = (fr_pop - fr_pop.mean()) / fr_pop.std()
    fr_bias = 0.35 * z_pop + 0.85 * rng.normal(0, 1, n_fr)
    bias = prm.item_bias_sd * (np.repeat(fr_bias, sizes) * 0.9 + 0.4 * rng.normal(0, 1, n_items))
    bias = bias - bias.mean()

    titles, extra = _anime_texts(rng, franchise, pos, sizes, types, eps, aired, airing, genres)
    return Catalogue(anime_id, franchise, pos, successor, types, eps.astype(np.int64),
                     genres, logpop, sequel_penalty, bias, factors, aired, titles, extra)


def _anime_texts(rng, franchise, pos, sizes, types, eps, aired, airing, genres):
    """Titles and the descriptive AnimeList columns (text, as in the real file)."""
    n = len(franchise)
    n_fr = len(sizes)
    w = np.asarray(_WORDS)
    a, b = rng.integers(0, len(w), n_fr), rng.integers(0, len(w), n_fr)
    tail = np.asarray(_TAILS)[rng.integers(0, len(_TAILS), n_fr)]
    form = rng.integers(0, 4, n_fr)
    roots, seen = [], {}
    for f in range(n_fr):
        name = (f"{w[a[f]]} no {w[b[f]]}" if form[f] == 0 else f"{w[a[f]]} {tail[f]}"
                if form[f] == 1 else f"{w[a[f]]} to {w[b[f]]}" if form[f] == 2
                else f"{w[a[f]]}{w[b[f]].lower()}: {tail[f]}")
        if f % 97 == 5:
            name = f"{w[a[f]]}, {w[b[f]]}!"  # a comma inside the title
        if f % 211 == 7:
            name = f'{w[a[f]]} "{w[b[f]]}"'  # quotes inside the title
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            name = f"{name} {'II III IV V VI VII VIII IX X'.split()[min(seen[name], 10) - 2]}"
        roots.append(name)
    suffix = {"TV": ["", " 2nd Season", " 3rd Season", ": Final Season", " Kan", " Shin"],
              "Movie": [" Movie", " Movie: Eien no Kizuna", " Movie 2", " the Movie"],
              "OVA": [" OVA", " OVA: Bangaihen", " Specials OVA"],
              "Special": [" Specials", " Recap", " Picture Drama"],
              "ONA": [" Web", " ONA", " Petit"], "Music": [" Music Clip", " PV"]}
    titles = []
    for i in range(n):
        base = roots[franchise[i]]
        if pos[i] == 0:
            titles.append(base)
        else:
            opts = suffix[types[i]]
            titles.append(f"{base}{opts[pos[i] % len(opts)]}" + ("" if pos[i] < len(opts) else f" {pos[i]}"))
    e = np.asarray(_ENGLISH)
    has_english = rng.random(n) < 0.45
    english = [f"The {e[i % 16]} of {e[(i * 7) % 16]}" + (", Again" if i % 5 == 0 else "")
               if has_english[i] else "" for i in range(n)]
    kana_idx = rng.integers(0, len(_KANA), (n, 7))
    japanese = ["".join(_KANA[k] for k in kana_idx[i, : 4 + i % 4]) for i in range(n)]
    day = aired.astype("datetime64[D]")
    start = pd.DatetimeIndex(day)
    end = pd.DatetimeIndex(day + np.where(types == "TV", np.maximum(eps, 1) * 7, 0).astype("timedelta64[D]"))
    sy, sm, sd = start.year.tolist(), start.month.tolist(), start.day.tolist()
    ey, em, ed = end.year.tolist(), end.month.tolist(), end.day.tolist()
    aired_string = [
        f"{_MONTHS[sm[i] - 1]} {sd[i]}, {sy[i]}" + (
            " to ?" if airing[i] else "" if types[i] != "TV"
            else f" to {_MONTHS[em[i] - 1]} {ed[i]}, {ey[i]}") for i in range(n)]
    start_s = start.strftime("%Y-%m-%d").tolist()
    end_s = end.strftime("%Y-%m-%d").tolist()
    aired_dict = [str({"from": start_s[i], "to": None if airing[i] else end_s[i]}) for i in range(n)]
    duration = np.where(types == "Movie", "1 hr. 45 min.", np.where(types == "Music", "4 min.",
                        "24 min. per ep."))
    studio = np.asarray(_STUDIOS)[rng.integers(0, len(_STUDIOS), len(sizes))][franchise]
    producer = [", ".join(sorted(set(np.asarray(_STUDIOS)[rng.integers(0, len(_STUDIOS), 2)])))
                for _ in range(n)]
    background = ["" if i % 13 else f"{titles[i]} was licensed in 2012, and re-released on Blu-ray."
                  for i in range(n)]
    extra = pd.DataFrame({
        "title_english": english,
        "title_japanese": japanese,
        "title_synonyms": ["" if i % 9 else f"{titles[i]}; {japanese[i]}" for i in range(n)],
        "image_url": [f"https://myanimelist.cdn-dena.com/images/anime/{i % 13 + 1}/{10000 + i}.jpg"
                      for i in range(n)],
        "source": np.asarray(_SOURCES)[rng.integers(0, len(_SOURCES), n)],
        "status": np.where(airing, "Currently Airing", "Finished Airing"),
        "airing": airing,
        "aired_string": aired_string,
        "aired": aired_dict,
        "duration": duration,
        "rating": np.asarray(_RATINGS)[rng.integers(0, len(_RATINGS), n)],
        "background": background,
        "premiered": [f"{_SEASONS[sm[i] - 1]} {sy[i]}" if types[i] == "TV" else "" for i in range(n)],
        "broadcast": np.where(types == "TV", "Fridays at Unknown", ""),
        "producer": producer,
        "licensor": np.where(rng.random(n) < 0.3, "Funimation", ""),
        "studio": studio,
        "genre": [", ".join(g) for g in genres],
        "opening_theme": ["[]" if t != "TV" else f"['#1: \"{titles[i]} OP\" by {e[i % 16]}']"
                          for i, t in enumerate(types)],
        "ending_theme": "[]",
    })
    return titles, extra


# ----------------------------------------------------------------------------
# the users
# ----------------------------------------------------------------------------
_SYLL = ("ka", "ri", "to", "mo", "na", "shi", "ra", "ze", "yu", "ki", "ha", "ru",
         "ne", "ko", "ta", "mi", "sa", "no", "ai", "ren", "kai", "sei", "ryo", "jin")
_LOCATIONS = ("", "", "", "Chennai, India", "Tokyo, Japan", "Berlin, Germany",
              "Los Angeles, CA", "São Paulo, Brazil", "Manila, Philippines", "Warsaw",
              "Paris, France", "Toronto, Canada", "Jakarta", "Moscow, Russia", "UK")


@dataclass
class Users:
    """The users, in generation order (index ``u`` = generator user index)."""

    username: np.ndarray
    user_id: np.ndarray
    bias: np.ndarray
    factors: np.ndarray
    n_hist: np.ndarray
    n_plan: np.ndarray
    continuation: np.ndarray
    scores_share: np.ndarray
    fills_dates: np.ndarray
    empty_rewatching: np.ndarray
    join: np.ndarray  # datetime64[s]
    last: np.ndarray  # datetime64[s], the last list update
    gender: np.ndarray
    location: np.ndarray
    birth_date: np.ndarray


def _make_users(rng: np.random.Generator, size: Size, prm: GenParams) -> Users:
    n = size.n_users
    k = prm.n_factors
    sd_p = np.sqrt(prm.interaction_sd / np.sqrt(k))
    s = 0.9  # long-tailed activity: lognormal number of list entries
    total = np.exp(rng.normal(np.log(size.mean_history) - s * s / 2, s, n))
    total = np.clip(np.rint(total), 3, max(3, int(0.45 * size.n_items))).astype(np.int64)
    n_plan = rng.binomial(total, prm.plan_share)
    n_plan = np.minimum(n_plan, max(0, int(0.1 * size.n_items)))
    n_hist = np.maximum(total - n_plan, 2)
    syl = np.asarray(_SYLL)
    parts = rng.integers(0, len(syl), (n, 3))
    digits = rng.integers(0, 1000, n)
    names = [f"{syl[a]}{syl[b]}{syl[c]}{d if d < 700 else ''}" for (a, b, c), d in zip(parts, digits)]
    seen: dict[str, int] = {}
    for u, name in enumerate(names):  # usernames are unique: number the repeats
        seen[name] = seen.get(name, 0) + 1
        if seen[name] > 1:
            names[u] = f"{name}_{seen[name]}"
            seen[names[u]] = 1
    perm = rng.permutation(n)  # file order differs from generation order
    user_id = np.empty(n, np.int64)
    user_id[perm] = np.sort(rng.choice(np.arange(1, 7_500_000), n, replace=False))
    years_in = 12.3 * rng.beta(1.3, 2.2, n)
    join = END_DATE - (years_in * 365.25 * 86400).astype("timedelta64[s]")
    span = (years_in * rng.beta(2.5, 1.2, n) * 365.25 * 86400).astype("timedelta64[s]")
    last = np.minimum(join + span + np.timedelta64(86400 * 3, "s"), END_DATE)
    gender = rng.choice(np.array(["Male", "Female", "Non-Binary", ""]), n, p=[0.6, 0.3, 0.01, 0.09])
    location = np.asarray(_LOCATIONS)[rng.integers(0, len(_LOCATIONS), n)]
    birth = (np.datetime64("1980-01-01", "D") + rng.integers(0, 22 * 365, n).astype("timedelta64[D]"))
    birth_s = np.where(rng.random(n) < 0.4, "", pd.DatetimeIndex(birth).strftime("%Y-%m-%d 00:00:00"))
    return Users(
        username=np.asarray(names), user_id=user_id,
        bias=rng.normal(0, prm.user_bias_sd, n),
        factors=rng.normal(0, sd_p, (n, k)) * _dim_scale(prm),
        n_hist=n_hist, n_plan=n_plan,
        continuation=np.clip(rng.beta(8 * prm.continuation_mean, 8 * (1 - prm.continuation_mean), n), 0, 1),
        # most users score most of what they finish; a few never score anything
        scores_share=np.where(rng.random(n) < prm.never_scoring_share, 0.0,
                              rng.beta(6, 6 * (1 - prm.scored_share) / prm.scored_share, n)),
        fills_dates=rng.random(n) < 0.3,
        empty_rewatching=rng.random(n) < 0.4,
        join=join, last=last, gender=gender, location=location, birth_date=birth_s,
    )


# ----------------------------------------------------------------------------
# the watch histories (one chunk of users at a time)
# ----------------------------------------------------------------------------
def _walk(n_hist, n_plan, cont, first_row, cand, succ, ug, P, Q, bu, bi, mu,
          u_cont, u_drop, rec_off, perm, perm_start, phase_len,
          out_item, out_pos, out_draw, out_phase, out_drop):  # pragma: no cover - numba
    """Draw each user's list in time order (see the module docstring).

    draw codes: 0 taste pick (2), 1 franchise continuation, 2 fallback (random
    unwatched anime, when the taste list ran out), 3 plan to watch.
    """
    n_items = Q.shape[0]
    m = cand.shape[1]
    k = Q.shape[1]
    stamp = np.full(n_items, -1, np.int64)
    for u in range(n_hist.shape[0]):
        base = rec_off[u]
        g = ug[u]
        last = -1
        last_drop = False
        cur_row = -1
        p = 0
        fb = perm_start[u]
        for pos in range(n_hist[u] + n_plan[u]):
            planning = pos >= n_hist[u]
            h = min(pos, n_hist[u] - 1) // phase_len
            row = first_row[u] + h
            if row != cur_row:
                cur_row = row
                p = 0
            nxt = -1
            draw = 3 if planning else 0
            if (not planning) and last >= 0 and not last_drop:
                s = succ[last]
                if s >= 0 and stamp[s] != u and u_cont[base + pos] < cont[u]:
                    nxt = s
                    draw = 1
            if nxt < 0:
                while p < m and (cand[row, p] < 0 or stamp[cand[row, p]] == u):
                    p += 1
                if p < m:
                    nxt = cand[row, p]
                    p += 1
                else:
                    while stamp[perm[fb % n_items]] == u:
                        fb += 1
                    nxt = perm[fb % n_items]
                    fb += 1
                    if not planning:
                        draw = 2
            stamp[nxt] = u
            x = mu + bu[g] + bi[nxt]
            for j in range(k):
                x += P[g, j] * Q[nxt, j]
            p_drop = 0.02 + 0.5 / (1.0 + np.exp((x - 6.0) / 0.5))
            dropped = (not planning) and u_drop[base + pos] < p_drop
            out_item[base + pos] = nxt
            out_pos[base + pos] = pos
            out_draw[base + pos] = draw
            out_phase[base + pos] = h
            out_drop[base + pos] = dropped
            last = nxt
            last_drop = dropped


_WALK_COMPILED = None


def _walk_compiled():
    """:func:`_walk` compiled by numba (imported only when data is generated)."""
    global _WALK_COMPILED
    if _WALK_COMPILED is None:
        from numba import njit

        _WALK_COMPILED = njit(cache=True)(_walk)
    return _WALK_COMPILED


def _pick_logits(cat: Catalogue, prm: GenParams) -> tuple[np.ndarray, float]:
    """The item part of eq. (2) and the scale that turns p.q into an affinity."""
    return cat.logpop - cat.sequel_penalty, prm.taste_beta / prm.interaction_sd


def _top_m(keys: np.ndarray, m: int) -> np.ndarray:
    """Column indices of the ``m`` largest keys of each row, largest first."""
    n = keys.shape[1]
    if m >= n:
        top = np.broadcast_to(np.arange(n), keys.shape)
    else:
        top = np.argpartition(keys, n - m, axis=1)[:, n - m:]
    order = np.argsort(-np.take_along_axis(keys, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _chunk(seed: int, c: int, lo: int, hi: int, cat: Catalogue, users: Users,
           prm: GenParams) -> dict[str, np.ndarray]:
    """Generate the list entries of users ``lo:hi`` (generator indices)."""
    rng = np.random.default_rng([seed, 7, c])
    n_items = len(cat.anime_id)
    ug = np.arange(lo, hi)
    n_hist, n_plan = users.n_hist[lo:hi], users.n_plan[lo:hi]
    n_phase = (n_hist - 1) // PHASE_LEN + 1
    first_row = np.cumsum(n_phase) - n_phase
    row_user = np.repeat(ug, n_phase)
    drift = rng.normal(0, 1, (len(row_user), prm.n_factors)) * users.factors.std() * prm.phase_drift
    item_logit, scale = _pick_logits(cat, prm)
    item_logit = item_logit.astype(np.float32)
    q32 = cat.factors.T.astype(np.float32)
    m = min(n_items, 2 * PHASE_LEN + 40)
    cand = np.empty((len(row_user), m), np.int64)
    for r0 in range(0, len(row_user), 2000):  # bounded memory: 2000 rows at a time
        r1 = min(r0 + 2000, len(row_user))
        # keys = logit + Gumbel noise; sorting them = sampling without replacement
        keys = (users.factors[row_user[r0:r1]] + drift[r0:r1]).astype(np.float32) @ q32
        keys *= np.float32(scale)
        keys += item_logit
        noise = rng.random((r1 - r0, n_items), dtype=np.float32)
        with np.errstate(divide="ignore"):
            np.log(noise, out=noise)
            np.negative(noise, out=noise)
            np.log(noise, out=noise)  # log(-log u): minus a Gumbel variable
        keys -= noise
        del noise
        cand[r0:r1] = _top_m(keys, m)
    total = n_hist + n_plan
    rec_off = np.cumsum(total) - total
    n_rec = int(total.sum())
    u_cont, u_drop = rng.random(n_rec), rng.random(n_rec)
    perm = rng.permutation(n_items)
    perm_start = rng.integers(0, n_items, len(ug))
    out = {name: np.empty(n_rec, dt) for name, dt in
           [("item", np.int64), ("pos", np.int64), ("draw", np.int8), ("phase", np.int16),
            ("dropped", np.bool_)]}
    _walk_compiled()(n_hist, n_plan, users.continuation[lo:hi], first_row, cand, cat.successor, ug,
          users.factors, cat.factors, users.bias, cat.bias, prm.mu, u_cont, u_drop, rec_off,
          perm, perm_start, PHASE_LEN, out["item"], out["pos"], out["draw"], out["phase"],
          out["dropped"])
    user = np.repeat(ug, total)
    out["user"] = user
    out["drift"] = drift
    out["row_user"] = row_user
    _entry_values(rng, out, cat, users, prm, n_hist[user - lo])
    return out


def _entry_values(rng, out, cat: Catalogue, users: Users, prm: GenParams, n_hist_rec):
    """Status, score, episodes, dates and timestamps of each list entry."""
    user, item, pos = out["user"], out["item"], out["pos"]
    n = len(user)
    planning = out["draw"] == 3
    eps = cat.episodes[item]
    long_running = (eps == 0) | (eps > 60)
    status = np.full(n, 2, np.int8)
    watching = ((pos == n_hist_rec - 1) & (rng.random(n) < 0.6)) | \
               ((pos == n_hist_rec - 2) & (rng.random(n) < 0.3)) | \
               (long_running & (rng.random(n) < 0.4)) | (rng.random(n) < 0.03)
    status[watching] = 1
    status[rng.random(n) < 0.03] = 3
    status[out["dropped"]] = 4
    status[planning] = 6
    # scores, eq. (1)
    x = prm.mu + users.bias[user] + cat.bias[item] + np.einsum(
        "ij,ij->i", users.factors[user], cat.factors[item])
    r = np.clip(np.rint(x + rng.normal(0, prm.noise_sd, n)), 1, 10).astype(np.int8)
    share = users.scores_share[user] * np.select([status == 1, status == 3, status == 4], [0.55, 0.5, 0.7], 1.0)
    if prm.score_missing_slope:
        # a low opinion makes a blank score more likely: logit(share) moves with x - mu
        odds = np.log(np.clip(share, 1e-6, 1 - 1e-6) / np.clip(1 - share, 1e-6, None))
        share = 1 / (1 + np.exp(-(odds + prm.score_missing_slope * (x - prm.mu))))
    scored = (rng.random(n) < share) & ~planning
    score = np.where(scored, r, 0).astype(np.int8)
    # watched episodes
    cap = np.where(eps > 0, eps, rng.integers(13, 120, n))
    part = np.floor(rng.random(n) * cap).astype(np.int64)
    watched = np.select([status == 2, status == 4, status == 6], [cap, np.minimum(part, cap // 2 + 1), 0], part)
    watched = np.where((status == 2) & (eps == 0), part, watched)
    # rewatching: more likely for anime the user loves
    rewatch = (status == 2) & (rng.random(n) < np.where(x > 8.3, 0.08, 0.01))
    rewatch_ep = np.where(rewatch, np.floor(rng.random(n) * np.maximum(eps, 1)), 0).astype(np.int64)
    # my_last_updated: strictly increasing along each user's list
    gaps = rng.exponential(1.0, n)
    first = np.r_[True, user[1:] != user[:-1]]
    starts = np.flatnonzero(first)
    counts = np.diff(np.r_[starts, n])
    csum = np.cumsum(gaps)
    before = np.repeat(csum[starts] - gaps[starts], counts)
    total = np.repeat(csum[np.r_[starts[1:], n] - 1], counts) - before
    frac = (csum - before) / (total + np.repeat(gaps[starts], counts))
    join = users.join[user].astype(np.int64)
    span = users.last[user].astype(np.int64) - join - np.repeat(counts, counts)
    span = np.maximum(span, 3600)
    hist_ts = join + np.floor(frac * span).astype(np.int64) + pos
    plan_ts = join + np.floor(rng.random(n) * span).astype(np.int64)
    ts = np.where(planning, plan_ts, hist_ts)
    out.update(status=status, score=score, watched=watched.astype(np.int64),
               rewatch=rewatch.astype(np.int8), rewatch_ep=rewatch_ep, ts=ts,
               latent=x)


# ----------------------------------------------------------------------------
# the entry point
# ----------------------------------------------------------------------------
def generate(profile: str = "ci", seed: int = 42, out_dir: str | Path | None = None, *,
             n_users: int | None = None, n_items: int | None = None,
             mean_history: float | None = None, params: GenParams | None = None,
             keep_record_truth: bool | None = None, overwrite: bool = False,
             progress: bool = False) -> Path:
    """Write a synthetic MyAnimeList into ``out_dir`` and return the folder.

    Parameters
    ----------
    profile
        ``ci``, ``book`` or ``full`` (the scale size); sizes come from
        ``course_utils.config`` unless ``n_users``/``n_items``/``mean_history``
        are given.
    seed
        Same seed and size → byte-identical files.
    out_dir
        Default ``data/generated/<profile>-seed<seed>/``. The folder is written
        under a temporary name and renamed when complete, so a folder that
        exists is always whole.
    keep_record_truth
        Save, for every list entry, how it was drawn (default: when there are
        fewer than 10 million entries).
    overwrite
        Regenerate even if the folder exists.

    Example
    -------
    >>> generate(n_users=40, n_items=60, mean_history=10, out_dir=tmp / "g")  # doctest: +SKIP
    PosixPath('.../g')
    """
    size = Size.of_profile(profile)
    size = Size(n_users or size.n_users, n_items or size.n_items, mean_history or size.mean_history)
    prm = params or GenParams()
    out = Path(out_dir) if out_dir is not None else generated_dir(profile, seed)
    meta = {"generator_version": GENERATOR_VERSION, "profile": profile, "seed": seed,
            "size": asdict(size), "params": asdict(prm)}
    if not overwrite and _complete(out, meta):
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(out.parent / f".{out.name}.lock"):  # another process may be generating it
        if not overwrite and _complete(out, meta):
            return out
        _write_folder(out, meta, size, seed, prm, keep_record_truth, progress)
    return out


def _complete(out: Path, meta: dict) -> bool:
    """Is ``out`` already generated with ``meta``? Refuse to replace newer data with older code."""
    try:
        found = json.loads((out / "generator.json").read_text())
    except (OSError, ValueError):
        return False
    if int(found.get("generator_version", 0)) > GENERATOR_VERSION:
        raise RuntimeError(
            f"{out} was generated by a newer version of the course code (generator "
            f"{found['generator_version']}, this process has {GENERATOR_VERSION}); restart the "
            "Python kernel so that it imports the updated course_utils")
    return found == meta


def _write_folder(out: Path, meta: dict, size: Size, seed: int, prm: GenParams,
                  keep_record_truth: bool | None, progress: bool) -> None:
    """Generate into a temporary folder, then rename it to ``out``."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    if tmp.exists():
        shutil.rmtree(tmp)
    (tmp / "truth").mkdir(parents=True)
    try:
        _generate_into(tmp, size, seed, prm, keep_record_truth, progress)
        (tmp / "generator.json").write_text(json.dumps(meta, indent=2, sort_keys=True) + "\n")
        if out.exists():
            trash = out.parent / f".{out.name}.old-{os.getpid()}"
            os.replace(out, trash)
            shutil.rmtree(trash)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _generate_into(folder: Path, size: Size, seed: int, prm: GenParams,
                   keep_record_truth: bool | None, progress: bool) -> None:
    cat = _make_catalogue(np.random.default_rng([seed, 1]), size.n_items, prm)
    users = _make_users(np.random.default_rng([seed, 2]), size, prm)
    n_rec_expected = int((users.n_hist + users.n_plan).sum())
    if keep_record_truth is None:
        keep_record_truth = n_rec_expected < 10_000_000
    n_items, n_users = len(cat.anime_id), size.n_users
    a_stats = {k: np.zeros(n_items, np.int64) for k in ("entries", "scored", "score_sum")}
    u_stats = {k: np.zeros(n_users, np.int64) for k in
               ("n1", "n2", "n3", "n4", "n6", "scored", "score_sum", "episodes", "rewatched")}
    u_stats["last_update"] = users.join.astype(np.int64).copy()
    rec_truth: dict[str, list[np.ndarray]] = {k: [] for k in ("user", "item", "phase", "draw")}
    drift_parts: list[np.ndarray] = []
    phase_rows = np.zeros(n_users, np.int64)
    chunks = range(0, n_users, CHUNK_USERS)
    if progress:
        from tqdm.auto import tqdm

        chunks = tqdm(chunks, desc="generating", unit="chunk")
    with open(folder / schema.LISTS_FILE, "wb") as fh:
        fh.write((",".join(schema.LIST_COLUMNS) + "\n").encode())
        for c, lo in enumerate(chunks):
            hi = min(lo + CHUNK_USERS, n_users)
            out = _chunk(seed, c, lo, hi, cat, users, prm)
            _write_rows(fh, _list_rows(np.random.default_rng([seed, 8, c]), out, cat, users, prm,
                                       int(cat.anime_id.max())))
            u, i, st, sc = out["user"], out["item"], out["status"], out["score"]
            a_stats["entries"] += np.bincount(i, minlength=n_items)
            a_stats["scored"] += np.bincount(i[sc > 0], minlength=n_items)
            a_stats["score_sum"] += np.bincount(i, weights=sc, minlength=n_items).astype(np.int64)
            for code in (1, 2, 3, 4, 6):
                u_stats[f"n{code}"] += np.bincount(u[st == code], minlength=n_users)
            u_stats["scored"] += np.bincount(u[sc > 0], minlength=n_users)
            u_stats["score_sum"] += np.bincount(u, weights=sc, minlength=n_users).astype(np.int64)
            u_stats["episodes"] += np.bincount(u, weights=out["watched"], minlength=n_users).astype(np.int64)
            u_stats["rewatched"] += np.bincount(u, weights=out["rewatch"], minlength=n_users).astype(np.int64)
            last = np.full(hi - lo, np.iinfo(np.int64).min)
            np.maximum.at(last, u - lo, out["ts"])
            u_stats["last_update"][lo:hi] = np.maximum(u_stats["last_update"][lo:hi], last)
            drift_parts.append(out["drift"].astype(np.float32))
            phase_rows[lo:hi] = np.bincount(out["row_user"] - lo, minlength=hi - lo)
            if keep_record_truth:
                rec_truth["user"].append(u.astype(np.int32))
                rec_truth["item"].append(i.astype(np.int32))
                rec_truth["phase"].append(out["phase"])
                rec_truth["draw"].append(out["draw"])
    rng = np.random.default_rng([seed, 3])
    anime = _anime_frame(cat, a_stats, n_users)
    anime.to_csv(folder / schema.ANIME_FILE, index=False, lineterminator="\n")
    user_frame = _user_frame(users, u_stats, rng, prm)
    user_frame.to_csv(folder / schema.USERS_FILE, index=False, lineterminator="\n")
    # users_cleaned.csv: the dataset author's cleaned user file drops users with
    # inconsistent data and repairs the 1900 dates
    keep = rng.random(len(user_frame)) >= prm.not_cleaned_user_share
    cleaned = user_frame[keep].copy()
    bad = cleaned["last_online"].str.startswith("1900")
    fixed = pd.Series(pd.DatetimeIndex(u_stats["last_update"].astype("datetime64[s]"))
                      .strftime("%Y-%m-%d %H:%M:%S"), index=range(n_users))
    pos_of = pd.Series(np.arange(n_users), index=users.username)
    cleaned.loc[bad, "last_online"] = fixed[pos_of[cleaned.loc[bad, "username"]].to_numpy()].to_numpy()
    cleaned.to_csv(folder / schema.USERS_CLEANED_FILE, index=False, lineterminator="\n")
    (folder / schema.STATUS_FILE).write_text(
        "status, description\n" + "".join(f"{k}, {v}\n" for k, v in schema.STATUS_NAMES.items()))
    _save_truth(folder / "truth", cat, users, prm, drift_parts, phase_rows, rec_truth)


def _save_truth(folder: Path, cat: Catalogue, users: Users, prm: GenParams,
                drift_parts, phase_rows, rec_truth) -> None:
    """The truth as plain .npy files (byte-deterministic, unlike .npz)."""
    arrays = {
        "item_anime_id": cat.anime_id, "item_bias": cat.bias, "item_factors": cat.factors,
        "item_logpop": cat.logpop, "item_sequel_penalty": cat.sequel_penalty,
        "item_successor": cat.successor, "item_franchise": cat.franchise,
        "item_franchise_pos": cat.franchise_pos,
        "user_username": users.username.astype("U"), "user_bias": users.bias,
        "user_factors": users.factors, "user_continuation": users.continuation,
        "user_phase_rows": phase_rows,
        "phase_drift": np.concatenate(drift_parts) if drift_parts else np.zeros((0, prm.n_factors)),
    }
    for key, parts in rec_truth.items():
        if parts:
            arrays[f"record_{key}"] = np.concatenate(parts)
    for key, value in arrays.items():
        np.save(folder / f"{key}.npy", np.ascontiguousarray(value), allow_pickle=False)
    (folder / "params.json").write_text(json.dumps(
        {**asdict(prm), "phase_len": PHASE_LEN,
         "taste_scale": prm.taste_beta / prm.interaction_sd}, indent=2, sort_keys=True) + "\n")
