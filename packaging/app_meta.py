"""hwprof's identity on each desktop: names, the snapshot file type, the macOS Info.plist.

One place for what the three recipes must agree on. The snapshot type is the single extension
``.hwprof`` (gzip-compressed JSON), registered as hwprof's own on every system: Windows' Explorer
and macOS' Launch Services look at the last extension only, so ``.hwprof.json`` could never be
associated there. ``*.hwprof.json`` and ``*.hwprof.json.gz`` stay readable everywhere and are
matched by the Linux MIME type; on Windows and macOS hwprof is offered in "Open with" for them.
"""

from __future__ import annotations

from typing import Any

APP_NAME = "hwprof"
BUNDLE_ID = "org.hwprof.hwprof"
SNAPSHOT_EXTENSION = "hwprof"  # without the dot: how Info.plist and the registry want it
SNAPSHOT_MIME = "application/x-hwprof-snapshot"
SNAPSHOT_UTI = "org.hwprof.snapshot"
SNAPSHOT_DESCRIPTION = "hwprof profile snapshot"
# every name a snapshot may have; the first is the one hwprof's own files get
SNAPSHOT_GLOBS = ("*.hwprof", "*.hwprof.json", "*.hwprof.json.gz")
MACOS_MINIMUM = "12.0"
# What the Linux packages say they support (the README's device table, in short): detection and
# live telemetry everywhere; workloads need the vendor's TensorFlow build, which the user installs
LINUX_DEVICES = (
    "CPUs; NVIDIA GPUs (NVML); AMD GPUs (amdgpu, workloads with tensorflow-rocm); Intel GPUs "
    "(i915/xe, workloads with intel-extension-for-tensorflow); TPU chips (TPU VMs, workloads "
    "with tensorflow-tpu). TensorFlow Lite inference (fp32, fp16, int8) on the CPU."
)


def info_plist(version: str) -> dict[str, Any]:
    """The keys hwprof's Info.plist adds to PyInstaller's (``BUNDLE(info_plist=...)``).

    A windowed app in the Dock with a menu bar (``LSBackgroundOnly`` false), its version, and the
    snapshot type: exported as hwprof's own UTI with the ``.hwprof`` extension, and hwprof as an
    alternate viewer of JSON and gzip files (``.hwprof.json[.gz]``). A double-clicked snapshot
    reaches the running app as Qt's QFileOpenEvent (hwprof/gui/file_open.py).
    """
    return {
        "CFBundleName": APP_NAME,
        "CFBundleDisplayName": APP_NAME,
        "CFBundleShortVersionString": version,
        "CFBundleVersion": version,
        "LSBackgroundOnly": False,
        "LSMinimumSystemVersion": MACOS_MINIMUM,
        "LSApplicationCategoryType": "public.app-category.developer-tools",
        "NSHighResolutionCapable": True,
        "NSRequiresAquaSystemAppearance": False,  # follow the system's dark mode
        "NSHumanReadableCopyright": "Licensed under the Apache License, Version 2.0",
        "CFBundleDocumentTypes": [
            {
                "CFBundleTypeName": SNAPSHOT_DESCRIPTION,
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Owner",
                "LSItemContentTypes": [SNAPSHOT_UTI],
                "CFBundleTypeIconFile": "hwprof.icns",
            },
            {
                "CFBundleTypeName": "JSON or gzip file (hwprof snapshot)",
                "CFBundleTypeRole": "Viewer",
                "LSHandlerRank": "Alternate",
                "LSItemContentTypes": ["public.json", "org.gnu.gnu-zip-archive"],
            },
        ],
        "UTExportedTypeDeclarations": [
            {
                "UTTypeIdentifier": SNAPSHOT_UTI,
                "UTTypeDescription": SNAPSHOT_DESCRIPTION,
                "UTTypeConformsTo": ["public.data"],
                "UTTypeIconFile": "hwprof.icns",
                "UTTypeTagSpecification": {
                    "public.filename-extension": [SNAPSHOT_EXTENSION],
                    "public.mime-type": [SNAPSHOT_MIME],
                },
            },
        ],
    }
