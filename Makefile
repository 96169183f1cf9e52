# The two commands a newcomer needs. Everything real lives in scripts/.
.PHONY: demo test lock bench

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

# Re-pin both lock files (with hashes) after changing pyproject.toml: requirements.lock is the
# runtime (production installs only it), requirements-dev.lock adds the `dev` extra.
# Versions already pinned are kept; add --upgrade to PIP_COMPILE to move them.
PIP_COMPILE = .venv/bin/pip-compile --quiet --generate-hashes --allow-unsafe --strip-extras \
	--no-emit-index-url --no-emit-find-links
lock:
	@$(PIP_COMPILE) -o requirements.lock pyproject.toml
	@$(PIP_COMPILE) --extra dev -o requirements-dev.lock pyproject.toml

bench:
	@bash scripts/bench.sh
