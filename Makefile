# Every target sets up what it needs itself (scripts/bootstrap.sh creates .venv on first use).
# Where make is missing, run the scripts directly: bash scripts/test.sh, bash scripts/demo.sh.
.PHONY: setup test test-fast demo images wheels lock check-locks bench clean

setup:
	bash scripts/bootstrap.sh

test:
	bash scripts/test.sh

test-fast:
	bash scripts/test.sh -m "not slow and not image_tests"

demo:
	bash scripts/demo.sh

# The five connector images (docs/images.md); `wheels` only puts the destination-common wheel
# into each destination's vendor/ folder, after which `docker build <destination>` works alone.
images:
	bash scripts/images.sh

wheels:
	bash scripts/images.sh --wheels-only

# Lock files (docs/images.md, "Lock files"): regenerate after changing a pyproject.toml or
# requirements-dev.txt (UPGRADE="airbyte-cdk" make lock moves a package); check-locks is offline.
lock:
	bash scripts/locks.sh update
	bash scripts/bootstrap.sh

check-locks:
	bash scripts/locks.sh check

bench:
	bash scripts/bench.sh

clean:
	rm -rf .venv .demo .bench
