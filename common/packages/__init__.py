"""Package formats: signed runtime packages, encrypted app packages, and their keys.

See ``docs/package-formats.md`` for the byte layouts. Everything a caller needs is exported
here; the submodules hold the details.
"""

from common.packages.app import (
    check_app,
    decrypt_app,
    inspect_app_header,
    list_app_files,
    load_app_manifest,
    pack_app,
    unpack_app,
    verify_app,
    write_app_archive,
)
from common.packages.appcrypto import AppHeader
from common.packages.errors import (
    BadKey,
    BadManifest,
    BadSignature,
    BadSource,
    NotAPackage,
    PackageError,
    TamperedCiphertext,
    TamperedMember,
    TooLarge,
    Truncated,
    UnresolvedImports,
    UnsafePath,
    UnsupportedFormat,
    UntrustedKey,
    WrongKey,
)
from common.packages.imports import DEFAULT_ALLOWED_IMPORTS
from common.packages.keys import (
    PlatformPrivateKey,
    PlatformPublicKey,
    PublisherKey,
    SigningKey,
    TrustedKeys,
    generate_platform_key,
    generate_signing_key,
    key_id,
    load_platform_key,
    load_signing_key,
    platform_key_from_pem,
    save_private_key,
    save_public_key,
    signing_key_from_pem,
)
from common.packages.limits import DEFAULT_LIMITS, PackageLimits
from common.packages.manifests import AppManifest, RuntimeManifest, parse_app_toml
from common.packages.runtime import pack_runtime, verify_runtime, verify_runtime_stream
from common.packages.tarsafe import safe_extract, scan_archive
from common.packages.versions import check_requirement, check_semver, runtime_satisfies

__all__ = [
    "DEFAULT_ALLOWED_IMPORTS",
    "DEFAULT_LIMITS",
    "AppHeader",
    "AppManifest",
    "BadKey",
    "BadManifest",
    "BadSignature",
    "BadSource",
    "NotAPackage",
    "PackageError",
    "PackageLimits",
    "PlatformPrivateKey",
    "PlatformPublicKey",
    "PublisherKey",
    "RuntimeManifest",
    "SigningKey",
    "TamperedCiphertext",
    "TamperedMember",
    "TooLarge",
    "TrustedKeys",
    "Truncated",
    "UnresolvedImports",
    "UnsafePath",
    "UnsupportedFormat",
    "UntrustedKey",
    "WrongKey",
    "check_app",
    "check_requirement",
    "check_semver",
    "decrypt_app",
    "generate_platform_key",
    "generate_signing_key",
    "inspect_app_header",
    "key_id",
    "list_app_files",
    "load_app_manifest",
    "load_platform_key",
    "load_signing_key",
    "pack_app",
    "pack_runtime",
    "parse_app_toml",
    "platform_key_from_pem",
    "runtime_satisfies",
    "safe_extract",
    "save_private_key",
    "save_public_key",
    "signing_key_from_pem",
    "scan_archive",
    "unpack_app",
    "verify_app",
    "verify_runtime",
    "verify_runtime_stream",
    "write_app_archive",
]
