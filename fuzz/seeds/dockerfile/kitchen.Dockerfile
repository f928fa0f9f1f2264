FROM dredge-fixture/base:1
# layer 1: everything that later layers will delete, overwrite or hide, plus what stays
RUN set -e; mkdir -p /data/dir /data/opq /data/d2f /data/hl /data/long /var/cache/apk; \
    yes del | head -c 100000 > /data/del.bin; \
    yes a | head -c 20000 > /data/dir/a; yes b | head -c 30000 > /data/dir/b; \
    yes over | head -c 40000 > /data/over.bin; \
    yes x | head -c 5000 > /data/opq/x; yes y | head -c 6000 > /data/opq/y; \
    yes f2d | head -c 7000 > /data/f2d; yes p | head -c 8000 > /data/d2f/p; \
    yes hard | head -c 50000 > /data/hard1; ln /data/hard1 /data/hard2; \
    yes hl | head -c 12000 > /data/hl/a; ln /data/hl/a /data/hl/b; \
    ln -s del.bin /data/link; \
    yes long | head -c 1000 > /data/long/nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn; \
    yes cafe | head -c 500 > "$(printf '/data/caf\351')"; \
    yes chm | head -c 25000 > /data/chm; \
    yes dup | head -c 33000 > /data/dup1; cp /data/dup1 /data/dup2; \
    yes apk | head -c 70000 > /var/cache/apk/APKINDEX.kept.tar.gz; \
    yes log | head -c 2000 > /tmp/build.log
# layer 2: delete a file, a directory, re-create a directory (opaque), overwrite, change types,
#          delete one name of a hard-linked pair and both names of another, chmod (copy-up), delete a base file
RUN set -e; rm /data/del.bin; rm -rf /data/dir; yes over2 | head -c 41000 > /data/over.bin; \
    rm -rf /data/opq; mkdir /data/opq; echo new > /data/opq/z; \
    rm /data/f2d; mkdir /data/f2d; yes q | head -c 1500 > /data/f2d/q; \
    rm -rf /data/d2f; yes d2f | head -c 9000 > /data/d2f; \
    rm /data/hard1; rm -rf /data/hl; rm /data/link; yes link | head -c 300 > /data/link; \
    chmod 700 /data/chm; rm /etc/motd
# layer 3 and 4: an apk-style cache written, then removed in a later RUN (its bytes still ship)
RUN mkdir -p /var/cache/apk && yes idx | head -c 64000 > /var/cache/apk/APKINDEX.split.tar.gz && yes tool | head -c 3000 > /usr/bin/tool-split
RUN rm -f /var/cache/apk/APKINDEX.split.tar.gz
# layer 5: the same done in one RUN (nothing ships)
RUN mkdir -p /var/cache/apk && yes idx | head -c 64000 > /var/cache/apk/APKINDEX.one.tar.gz && yes tool1 | head -c 3000 > /usr/bin/tool-one && rm -f /var/cache/apk/APKINDEX.one.tar.gz
# layers 6 and 7: two identical layers (docker save stores the second as a symlink to the first)
COPY same.txt /same.txt
COPY same.txt /same.txt
