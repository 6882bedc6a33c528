# The test command: gofmt, go vet, staticcheck, and go test -race over every module of the
# workspace against local dynalite, versitygw and redis-server (started and stopped by the script).
.PHONY: test quickstart mutation
test:
	bash scripts/test.sh

# The main demo on the embedded in-memory store: no AWS account needed.
quickstart:
	go run ./examples/quickstart

# Mutation testing of one package (not part of `make test`: minutes per package), e.g.
# make mutation PKG=core/memstore. See scripts/mutation.sh and mutation/equivalents.txt.
mutation:
	bash scripts/mutation.sh $(PKG)
