# DFLB build, run, test and benchmark entry points.

GO          ?= go
BIN         := bin
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run demo test test-short bench lint clean

all: build

build:
	$(GO) build -o $(BIN)/dflb ./cmd/dflb
	$(GO) build -o $(BIN)/component ./cmd/component
	$(GO) build -o $(BIN)/dfm ./cmd/dfm
	$(GO) build -o $(BIN)/dflb-bench ./cmd/dflb-bench
	$(GO) build -o $(BIN)/dflb-demo ./cmd/dflb-demo

# Start DFLB on 127.0.0.1:8080 in front of two local sample instances.
run: build
	./scripts/run.sh

# The five situations under load with local instances, narrated; ends
# with "demo: sent N failed F misrouted M".
demo: build
	./$(BIN)/dflb-demo -bin $(BIN) -dir .dflb-demo

# Every test, with the race detector.
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -short -count=1 ./...

# Side-by-side load test of the backend, NGINX and DFLB (needs nginx and wrk).
bench: build
	$(GO) test -run '^$$' -bench . -benchmem ./bench/ ./balancer/ ./tenant/
	./$(BIN)/dflb-bench -dflb $(BIN)/dflb -component $(BIN)/component

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

clean:
	rm -rf $(BIN)
