"""``/api/styles``: the styles rewrite can use, scoring a text against one, and the caller's learned profiles.

Presets (built in, or YAML files in the server's data folder) and the server's learned styles are shared by every
user and are what ``/api/rewrite`` takes. A user's own profiles, learned here from samples they send, are kept in
the store under a generated id and are theirs alone: another user's id answers 404. They score texts
(``profile_id`` here) and ``/api/rewrite`` takes them (``profile_id``), as a learned style for that request only.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Response
from starlette.concurrency import run_in_threadpool

from draftsmith.server.auth import Principal, current_user
from draftsmith.server.errors import ApiError
from draftsmith.server.schemas import (
    ProfileInfo,
    StyleInfo,
    StyleLearnRequest,
    StyleList,
    StyleScoreRequest,
    error_responses,
)
from draftsmith.server.state import get_store
from draftsmith.store import accounts
from draftsmith.store.db import Store
from draftsmith.style.profile import AdherenceReport, StyleProfile

router = APIRouter(prefix="/api/styles", tags=["styles"])
ProfileId = Path(min_length=1, max_length=64, description="a learned profile's id")


class Profiles:
    def __init__(self, principal: Principal = Depends(current_user), store: Store = Depends(get_store)) -> None:
        self.store = store
        self.owner = principal.user_id or ""

    async def get(self, profile_id: str) -> accounts.StoredProfile:
        found = await run_in_threadpool(accounts.get_style_profile, self.store, self.owner, profile_id)
        if found is None:
            raise ApiError(404, "not_found", f"no style profile {profile_id}")
        return found


def _info(p: accounts.StoredProfile) -> ProfileInfo:
    return ProfileInfo(
        id=p.id,
        name=p.name,
        language=p.profile.get("language", ""),
        texts=p.profile.get("texts", 0),
        created_at=p.created_at,
    )


def _styles() -> list[StyleInfo]:
    from draftsmith.errors import InputError
    from draftsmith.style.presets import get_style, list_styles, style_kind

    out = []
    for name in list_styles():
        try:
            out.append(StyleInfo(name=name, kind=style_kind(name), description=get_style(name).description))
        except InputError:  # a broken user file: leave it out of the list
            continue
    return out


@router.get("", response_model=StyleList)
async def list_all(ps: Profiles = Depends()) -> Any:
    """Styles for rewrite (presets and the server's learned styles), and the caller's own profiles."""
    styles = await run_in_threadpool(_styles)
    mine = await run_in_threadpool(accounts.list_style_profiles, ps.store, ps.owner)
    return StyleList(styles=styles, profiles=[_info(p) for p in mine])


@router.post("/score", response_model=AdherenceReport, responses=error_responses(400, 404, 422))
async def score(body: StyleScoreRequest, ps: Profiles = Depends()) -> Any:
    """How typical the text is of a style (0–1) and what differs most, in plain words."""
    from draftsmith.style.profile import adherence
    from draftsmith.style.store import load_for_text

    if (body.style is None) == (body.profile_id is None):
        raise ApiError(400, "input_error", "give either style (a style name) or profile_id (one of your profiles)")
    if body.profile_id is not None:
        stored = await ps.get(body.profile_id)
        profile = StyleProfile.model_validate(stored.profile)
    else:
        profile = await run_in_threadpool(load_for_text, body.style, body.text)
    return await run_in_threadpool(adherence, body.text, profile)


@router.get("/profiles", response_model=list[ProfileInfo])
async def list_profiles(ps: Profiles = Depends()) -> Any:
    """The caller's learned profiles, oldest first."""
    return [_info(p) for p in await run_in_threadpool(accounts.list_style_profiles, ps.store, ps.owner)]


@router.post("/profiles", response_model=ProfileInfo, status_code=201, responses=error_responses(400, 413, 422))
async def learn(body: StyleLearnRequest, ps: Profiles = Depends()) -> Any:
    """Learn a profile from five or more sample texts (sent in the body); kept for the caller under a new id."""
    from draftsmith.style.profile import learn as learn_profile

    def work() -> accounts.StoredProfile:
        profile = learn_profile(body.name, body.samples, description=body.description)
        return accounts.save_style_profile(ps.store, ps.owner, body.name, profile.model_dump(mode="json"))

    return _info(await run_in_threadpool(work))


@router.get("/profiles/{profile_id}", response_model=StyleProfile, responses=error_responses(404))
async def get_profile(profile_id: str = ProfileId, ps: Profiles = Depends()) -> Any:
    """One of the caller's profiles in full (features, rules, exemplars)."""
    return StyleProfile.model_validate((await ps.get(profile_id)).profile)


@router.delete("/profiles/{profile_id}", status_code=204, response_class=Response, responses=error_responses(404))
async def delete_profile(profile_id: str = ProfileId, ps: Profiles = Depends()) -> Response:
    """Forget one of the caller's profiles."""
    if not await run_in_threadpool(accounts.delete_style_profile, ps.store, ps.owner, profile_id):
        raise ApiError(404, "not_found", f"no style profile {profile_id}")
    return Response(status_code=204)
