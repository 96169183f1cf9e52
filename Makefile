# The two commands a newcomer needs. Everything real lives in scripts/.
.PHONY: demo test lock bench

demo:
	@bash scripts/demo.sh

test:
	@bash scripts/test.sh

# Re-pin requirements.lock from the current virtualenv after changing pyproject.toml.
lock:
	@.venv/bin/python -m pip freeze --exclude-editable > requirements.lock

bench:
	@bash scripts/bench.sh
