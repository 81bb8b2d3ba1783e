# turbine engine + turbine-autoscaler on CUDA.
#   docker build -t turbine:0.1.0 .
#   docker build --build-arg CUDA_ARCHS="90a" -t turbine:0.1.0-h100 .
# The builder compiles with the CUDA toolkit and Ubuntu's -dev packages; the runtime stage
# is the CUDA runtime image (cuBLAS included) plus the shared libraries the binaries link.
ARG CUDA_VERSION=12.6.3
ARG UBUNTU=ubuntu24.04

FROM nvidia/cuda:${CUDA_VERSION}-devel-${UBUNTU} AS builder
ARG CUDA_ARCHS="80;90a"
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      build-essential cmake ninja-build ca-certificates \
      libcpp-httplib-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev \
      libssl-dev zlib1g-dev libbrotli-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release \
      -DTURBINE_CUDA=ON -DTURBINE_TESTS=OFF -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS}" \
 && cmake --build build \
 && test -x build/bin/turbine && test -x build/bin/turbine-autoscaler
# The non-system shared libraries both binaries need (the CUDA ones come with the base).
RUN mkdir -p /out/lib \
 && ldd build/bin/turbine build/bin/turbine-autoscaler \
    | awk '$2 == "=>" && $3 ~ /^\// { print $3 }' | sort -u \
    | grep -Ev '/(libc|libm|libdl|librt|libpthread|libgcc_s|libstdc\+\+|ld-linux[^/]*|libcuda|libcudart|libcublas[^/]*|libcublasLt)\.so' \
    | xargs -r -I{} cp -L {} /out/lib/

FROM nvidia/cuda:${CUDA_VERSION}-runtime-${UBUNTU}
LABEL org.opencontainers.image.title="turbine" \
      org.opencontainers.image.description="turbine LLM inference engine and autoscaling sidecar"
COPY --from=builder /out/lib/ /usr/local/lib/turbine/
COPY --from=builder /src/build/bin/turbine /src/build/bin/turbine-autoscaler /usr/local/bin/
RUN echo /usr/local/lib/turbine > /etc/ld.so.conf.d/turbine.conf && ldconfig \
 && groupadd --system --gid 10001 turbine \
 && useradd --system --uid 10001 --gid 10001 --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin turbine \
 && mkdir -p /models /etc/turbine
# The chart mounts the model at /models, the configs at /etc/turbine and an emptyDir at /tmp
# (the root filesystem is read-only there).
USER 10001:10001
EXPOSE 8000 9091
ENTRYPOINT ["/usr/local/bin/turbine"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000", "-m", "/models/model.gguf"]
