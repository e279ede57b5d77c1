"""The admin page ``/admin/apps``: which groups may use each app and which may publish it.

One form per app with a checkbox per group for *use* and for *publish*; saving replaces the
app's rights (``apps.set_rights``; no use-group ticked: every signed-in user may use it). The
backend decides again who may change them (docs/security.md, "Rights").
"""

from __future__ import annotations

from aiohttp import web

from common.contracts.methods import GroupMethods, RegistryMethods
from portal_svc.appkeys import BACKEND
from portal_svc.pages.admin import act, admin_caller, admin_form, render

routes = web.RouteTableDef()
APPS_PAGE = "/admin/apps"


@routes.get(APPS_PAGE)
async def apps_page(request: web.Request) -> web.StreamResponse:
    caller = await admin_caller(request)
    backend = request.app[BACKEND]
    apps = (await backend.call(RegistryMethods.LIST_APPS, actor=caller.principal)).apps
    rights = {app.name: await backend.call(RegistryMethods.GET_RIGHTS, actor=caller.principal,
                                           name=app.name) for app in apps}
    groups = (await backend.call(GroupMethods.LIST, actor=caller.principal)).groups
    return await render(request, caller, "apps", "admin_apps.html", apps=apps, rights=rights,
                        groups=[g.name for g in groups])


@routes.post(APPS_PAGE + "/{app}/rights")
async def set_rights(request: web.Request) -> web.StreamResponse:
    caller, _ = await admin_form(request)  # the CSRF check
    app = request.match_info["app"]
    ticked = await request.post()  # read once by aiohttp: the checkboxes, several per name
    use, publish = ({str(v) for v in ticked.getall(name, [])} for name in ("use", "publish"))
    return await act(request, caller, RegistryMethods.SET_RIGHTS, f"Saved the rights of {app}.",
                     APPS_PAGE, name=app, use=sorted(use), publish=sorted(publish))
