"""What the upload, download and delete views work with, kept on the app under ``STORES``."""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web

from common.errors import Unavailable
from portal_svc.appkeys import STORES
from portal_svc.backend_client import BackendClient
from portal_svc.files.bucket import PortalStorage
from portal_svc.files.cases import CaseStore
from portal_svc.files.packages import Depot
from portal_svc.files.trust import PackageKeys


@dataclass(frozen=True)
class Stores:
    storage: PortalStorage
    keys: PackageKeys
    depot: Depot
    cases: CaseStore

    @classmethod
    def build(cls, storage: PortalStorage, backend: BackendClient, keys: PackageKeys) -> Stores:
        return cls(storage, keys, Depot(storage, backend, keys),
                   CaseStore(storage, backend, keys.max_case_bytes))


def stores(request: web.Request) -> Stores:
    """The app's stores; Unavailable ``storage_unavailable`` when it was built without S3."""
    found = request.app.get(STORES)
    if found is None:
        raise Unavailable("this portal has no file storage configured",
                          code="storage_unavailable")
    return found
