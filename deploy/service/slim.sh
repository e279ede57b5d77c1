#!/bin/sh
# Trim the service image (part of deploy/service/Dockerfile):
#   slim.sh VENV     drop what the services never load from the venv: pip, tests, headers,
#                    pyarrow's Flight and S3 parts, botocore's models of other AWS APIs
#   slim.sh --rootfs drop docs, man pages, locales, apt's lists and caches, pip from the base
set -eu

venv_slim() {
    site=$(echo "$1"/lib/python3*/site-packages)
    rm -rf "$site"/pip "$site"/pip-* "$site"/setuptools "$site"/setuptools-* \
           "$site"/pkg_resources "$site"/_distutils_hack "$site"/distutils-precedence.pth \
           "$site"/*-stubs
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

# The final image needs no package manager: apt, dpkg, debconf and the perl they run on go,
# with glibc's iconv modules (Python has its own codecs) and pip in every form.
rootfs_slim() {
    rm -rf /usr/share/doc/* /usr/share/man/* /usr/share/info/* /usr/share/locale/* \
           /usr/share/python-wheels /usr/share/perl5 /usr/share/debconf /usr/share/lintian \
           /var/lib/apt /var/cache/* /var/log/* /var/lib/dpkg/info /etc/apt /usr/lib/apt \
           /usr/lib/dpkg /usr/bin/apt* /usr/bin/dpkg* /usr/bin/debconf* /usr/bin/perl* \
           /usr/lib/x86_64-linux-gnu/perl-base /usr/lib/x86_64-linux-gnu/libapt-* \
           /usr/lib/x86_64-linux-gnu/gconv \
           /usr/lib/python3/dist-packages/pip /usr/lib/python3/dist-packages/pip-* \
           /usr/lib/python3/dist-packages/setuptools* /usr/lib/python3/dist-packages/pkg_resources \
           /usr/lib/python3/dist-packages/wheel* /usr/lib/python3/dist-packages/_distutils_hack \
           /usr/lib/python3.11/ensurepip /usr/lib/python3.11/lib2to3 /usr/lib/python3.11/pydoc_data \
           /usr/lib/python3.11/idlelib /usr/lib/python3.11/turtledemo /usr/lib/python3.11/tkinter
    find /usr/lib/python3* -depth -type d \( -name test -o -name tests -o -name __pycache__ \) \
        -exec rm -rf {} +
}

if [ "$1" = "--rootfs" ]; then rootfs_slim; else venv_slim "$1"; fi
