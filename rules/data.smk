# Embedded data: Fashion-MNIST from Debian's package (or the folder in params.yaml data.fashion_mnist).


rule fashion_mnist:
    output:
        FASHION_MNIST,
    params:
        source=PIPELINE.data_source(),
    shell:
        "{PYTHON} -m phased_dmd.data.fashion_mnist --dest data/fashion-mnist {params.source}"
