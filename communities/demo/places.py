"""The demo's districts, streets, communities and posts, planned in memory."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from communities.demo import data
from communities.demo.people import rng, split_evenly, weighted


@dataclass(slots=True)
class PostPlan:
    type_code: str
    name: str
    location: str
    bands: str
    capacity: dict[str, int]  # per band: the same every day, as on a real rota


@dataclass(slots=True)
class CommunityPlan:
    code: str
    name: str
    name_en: str
    street: int  # index into PlacesPlan.streets
    address: str
    latitude: Decimal | None
    longitude: Decimal | None
    geofence_radius_m: int | None
    posts: list[PostPlan]


@dataclass(slots=True)
class PlacesPlan:
    districts: list[tuple[str, str, str]]  # (code, name, name_en)
    streets: list[tuple[int, str, str]]  # (district index, name, name_en)
    communities: list[CommunityPlan]


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def plan_places(*, seed: int, communities: int) -> PlacesPlan:
    draw = rng(seed, "places")
    districts = [(code, name, name_en) for code, name, name_en, *_rest in data.DISTRICTS]
    streets: list[tuple[int, str, str]] = []
    per_district = split_evenly(communities, [d[4] for d in data.DISTRICTS])

    names = [(s + x, s_en + x_en) for s, s_en in data.COMMUNITY_STEMS for x, x_en in data.COMMUNITY_SUFFIXES]
    draw.shuffle(names)
    next_name = 0
    plans: list[CommunityPlan] = []
    for district_index, (_code, name, _en, prefix, _w, centre, district_streets) in enumerate(data.DISTRICTS):
        count = per_district[district_index]
        street_sizes = split_evenly(count, [draw.uniform(0.5, 1.5) for _ in district_streets])
        width = max(4, len(str(count)))
        number = 0
        for (street_name, street_en), size in zip(district_streets, street_sizes, strict=True):
            streets.append((district_index, street_name, street_en))
            used: set[str] = set()
            for _ in range(size):
                # Names repeat across streets only once every stem and suffix pair is taken.
                for _attempt in range(len(names)):
                    candidate, candidate_en = names[next_name % len(names)]
                    next_name += 1
                    if candidate not in used:
                        break
                used.add(candidate)
                number += 1
                latitude = longitude = radius = None
                if centre and draw.random() < 0.42:
                    latitude = Decimal(f"{_clamp(centre[0] + draw.gauss(0, 0.025), data.LATITUDE_RANGE):.6f}")
                    longitude = Decimal(f"{_clamp(centre[1] + draw.gauss(0, 0.03), data.LONGITUDE_RANGE):.6f}")
                    radius = 300
                address = f"{name.split('（')[0]}{street_name}{draw.choice(data.ROADS)}{draw.randint(1, 888)}号"
                plans.append(
                    CommunityPlan(
                        code=f"{prefix}{number:0{width}d}",
                        name=f"{candidate}社区",
                        name_en=f"{candidate_en} Community",
                        street=len(streets) - 1,
                        address=address,
                        latitude=latitude,
                        longitude=longitude,
                        geofence_radius_m=radius,
                        posts=_plan_posts(draw, first=not plans),
                    )
                )
    return PlacesPlan(districts, streets, plans)


def _plan_posts(draw, *, first: bool) -> list[PostPlan]:
    # Most communities in lockdown ran a checkpoint; the demo's first community always does,
    # because the demo volunteer works there.
    types = ["checkpoint" if first or draw.random() < 0.8 else "temperature"]
    wanted = draw.choice((2, 3))
    while len(types) < wanted:
        candidate = weighted(draw, data.EXTRA_POST_WEIGHTS)
        if candidate not in types:
            types.append(candidate)
    if not first and draw.random() < 0.03:
        types[-1] = "psych-support"
    posts = []
    for type_code in types:
        name, location = draw.choice(data.POST_NAMES[type_code])
        bands = data.POST_TYPE_BANDS[type_code]
        posts.append(PostPlan(type_code, name, location, bands, {band: draw.randint(2, 4) for band in bands}))
    return posts
