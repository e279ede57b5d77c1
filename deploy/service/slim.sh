#!/bin/sh
# Trim the service image (part of deploy/service/Dockerfile):
#   slim.sh VENV     drop what the services never load from the venv: pip, tests, headers,
#                    pyarrow's Flight and S3 parts, botocore's models of other AWS APIs
#   slim.sh --rootfs drop docs, man pages, locales, apt's lists and caches, pip from the base
set -eu

venv_slim() {
    site=$(echo "$1"/lib/python3*/site-packages)
    rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
           "$site"/_distutils_hack "$site"/distutils-precedence.pth
    rm -f "$1"/bin/pip "$1"/bin/pip3*
    find "$site" -depth -type d \( -name tests -o -name test -o -name include \) \
        -path '*pyarrow*' -exec rm -rf {} +
    # Flight and the S3 file system are modules of their own that nothing here imports;
    # pyarrow.lib links the rest (substrait included). Only the sonames are loaded, so the
    # wheel's copies under the link-time names go too.
    rm -f "$site"/pyarrow/*flight* "$site"/pyarrow/libarrow_s3.so* "$site"/pyarrow/_s3fs.* \
          "$site"/pyarrow/*gandiva* "$site"/pyarrow/*.pxd "$site"/pyarrow/*.pyx \
          "$site"/pyarrow/*.pxi "$site"/pyarrow/*.h "$site"/pyarrow/*.cc
    rm -f "$site"/pyarrow/libarrow_python*.so "$site"/pyarrow/libarrow_python*.so.*.*.*
    if [ -d "$site"/botocore/data ]; then
        for api in "$site"/botocore/data/*/; do
            case "$(basename "$api")" in s3|sts|sso|sso-oidc) ;; *) rm -rf "$api" ;; esac
        done
    fi
    find "$1" -depth -name __pycache__ -type d -exec rm -rf {} +
}

rootfs_slim() {
    rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
           /var/lib/apt/lists/* /var/cache/apt/* /var/cache/debconf/*-old /var/log/* \
           /usr/lib/python3/dist-packages/pip /usr/lib/python3/dist-packages/pip-* \
           /usr/share/python-wheels/*
    find /usr/lib/python3* -depth -type d \( -name test -o -name tests -o -name idlelib \
        -o -name __pycache__ \) -exec rm -rf {} +
}

if [ "$1" = "--rootfs" ]; then rootfs_slim; else venv_slim "$1"; fi
