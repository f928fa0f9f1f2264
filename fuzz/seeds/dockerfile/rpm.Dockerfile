FROM rockylinux:9
RUN yum install -y httpd-2.4.57 && yum clean all
RUN yum install -y mod_ssl-2.4.57
RUN dnf install -y nginx-1.20.1 && dnf clean all
RUN microdnf install -y jq-1.6
