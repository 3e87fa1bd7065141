"""Where the packaging tests find things: ctest sets KIAGATEWAY (the built binary), KG_SOURCE_DIR
(the project root) and KG_BINARY_DIR (the build folder)."""

import os
import pathlib

BINARY = os.path.abspath(os.environ.get("KIAGATEWAY", "kiagateway"))
SOURCE = pathlib.Path(os.environ.get("KG_SOURCE_DIR", pathlib.Path(__file__).resolve().parents[2]))
BUILD = pathlib.Path(os.environ.get("KG_BINARY_DIR", pathlib.Path(BINARY).parent))
