"""HTTP clients of the sources: the GENESIS-Online REST service and paginated JSON APIs.

`http` holds what they share (retries, time budget, masking of secrets, the per-host
concurrency bound, download progress); `genesis` and `json_api` the protocols.
"""

from sources.clients.genesis import (
    GenesisClient,
    GenesisCredentials,
    GenesisError,
    GenesisSettings,
    TableFile,
    parse_updated,
)
from sources.clients.http import FetchError, RetryPolicy, mask
from sources.clients.json_api import JsonApiClient, JsonApiResult, JsonApiSettings

__all__ = [
    "FetchError",
    "GenesisClient",
    "GenesisCredentials",
    "GenesisError",
    "GenesisSettings",
    "JsonApiClient",
    "JsonApiResult",
    "JsonApiSettings",
    "RetryPolicy",
    "TableFile",
    "mask",
    "parse_updated",
]
