FROM opensuse/leap:15.5
RUN zypper install -y curl-8.0.1 && zypper clean -a
RUN zypper install -y git-2.35.3
