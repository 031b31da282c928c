"""`bildungsmonitor portal`: serve the portal with uvicorn; issue and revoke access tokens."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from portal.app import DEFAULT_MAX_UPLOAD, PortalSettings, build_app
from portal.partners import Partner, load_partners
from portal.tokens import TokenStore
from sources.registry import Source
from warehouse.db import DataPaths

DEFAULT_PORT = 8040


@dataclass(frozen=True)
class PortalConfig:
    paths: DataPaths
    registry: dict[str, Source]
    partners_file: Path

    def partners(self) -> dict[str, Partner]:
        return load_partners(self.partners_file, self.registry)

    def tokens(self) -> TokenStore:
        return TokenStore(self.paths.root / "portal")


def serve(
    config: PortalConfig,
    host: str,
    port: int,
    max_upload: int = DEFAULT_MAX_UPLOAD,
    secure_cookies: bool = True,
    forwarded_allow_ips: str = "127.0.0.1",
) -> None:
    import uvicorn

    settings = PortalSettings(
        config.paths,
        config.registry,
        config.partners(),
        max_upload=max_upload,
        secure_cookies=secure_cookies,
    )
    uvicorn.run(
        build_app(settings),
        host=host,
        port=port,
        # behind the TLS proxy: the client's address (for the sign-in limit) and https come
        # from its X-Forwarded-For / X-Forwarded-Proto, trusted from these addresses only
        proxy_headers=True,
        forwarded_allow_ips=forwarded_allow_ips,
        server_header=False,
        log_level="info",
    )


def add_partner(config: PortalConfig, partner_id: str) -> tuple[int, str]:
    partners = config.partners()
    partner = partners.get(partner_id)
    if partner is None:
        known = ", ".join(sorted(partners)) or "none"
        return 2, f"unknown partner {partner_id!r} in {config.partners_file}; known: {known}"
    store = config.tokens()
    issued = store.issue(partner_id)
    return 0, (
        f"Access token for {partner_id} ({partner.name}), token id {issued.token_id}:\n\n"
        f"    {issued.token}\n\n"
        f"It is shown only now: only its hash is stored ({store.path}). Give it to "
        f"{partner.email} by a safe way; revoke it with "
        f"`bildungsmonitor portal revoke {partner_id} --token {issued.token_id}`."
    )


def revoke(config: PortalConfig, partner_id: str, token_id: str | None) -> tuple[int, str]:
    store = config.tokens()
    revoked = store.revoke(partner_id, token_id)
    if not revoked:
        which = f"token {token_id} of {partner_id}" if token_id else f"tokens of {partner_id}"
        return 2, f"no active {which} in {store.path}"
    return 0, (
        f"revoked {len(revoked)} token(s) of {partner_id}: {', '.join(revoked)} — a session "
        "signed in with one ends at its next request"
    )
