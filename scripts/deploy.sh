#!/usr/bin/env bash
# `make deploy`: the stack and the web app, in one command (docs/deployment.md, "Deploying").
#
#   1. `make package` (sam build of every function) and the web app (npm ci when web/node_modules
#      is missing, then npm run build into web/dist): both fail before anything is deployed;
#   2. `sam deploy`: guided the first time (it saves samconfig.toml), from samconfig.toml after;
#   3. without AppDomainName, once the distribution exists, a second deploy that gives the
#      functions its origin (DistributionOrigin): they cannot read it from the distribution;
#   4. web/dist uploaded to the site bucket, and the distribution's cache invalidated.
#
# SAM_CONFIG_ENV picks the samconfig.toml environment (default: default); STACK_NAME overrides its
# stack name. The region is samconfig.toml's, else AWS_REGION, else us-east-1 (as scripts/sam.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

config_env=${SAM_CONFIG_ENV:-default}
samconfig=samconfig.toml

say() { echo "deploy: $*" >&2; }
die() {
    say "$*"
    exit 1
}

# samconfig KEY: KEY in [<config_env>.deploy.parameters] of samconfig.toml, one line per list item;
# nothing when the file, the environment or the key is missing.
samconfig() {
    [ -f "$samconfig" ] || return 0
    python3 - "$samconfig" "$config_env" "$1" <<'EOF'
import sys, tomllib

path, env, key = sys.argv[1:]
with open(path, "rb") as f:
    value = tomllib.load(f).get(env, {}).get("deploy", {}).get("parameters", {}).get(key)
if value is not None:
    print("\n".join(map(str, value)) if isinstance(value, list) else value)
EOF
}

# --- What this needs, checked before anything slow.
command -v aws >/dev/null ||
    die "the AWS CLI is not installed: install version 2 (https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html)"
command -v npm >/dev/null ||
    die "npm is not installed: install Node.js (the version web/package.json's engines names)"
if ! python3 -c 'import tomllib' 2>/dev/null; then
    die "reading samconfig.toml needs Python 3.11 or later as python3"
fi
[ -f web/package.json ] || die "web/package.json is missing: the web app is built from web/"
if [ -n "${AWS_ENDPOINT_URL:-}${AWS_ENDPOINT_URL_S3:-}" ]; then
    die "AWS_ENDPOINT_URL or AWS_ENDPOINT_URL_S3 is set (LocalStack's?): a deploy goes to AWS itself; unset them (make deploy drops the Makefile's own)"
fi

first_run=false
[ -n "$(samconfig stack_name)" ] || first_run=true
region=$(samconfig region)
region=${region:-${AWS_REGION:-us-east-1}}
if ! aws sts get-caller-identity --region "$region" >/dev/null 2>&1; then
    die "no usable AWS credentials: configure some (aws configure, AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY), then retry"
fi

# stack_output NAME, stack_parameter NAME: the deployed stack's, empty when it or the stack is missing.
stack_output() {
    aws cloudformation describe-stacks --region "$region" --stack-name "$stack" --output text \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" 2>/dev/null | sed 's/^None$//'
}
stack_parameter() {
    aws cloudformation describe-stacks --region "$region" --stack-name "$stack" --output text \
        --query "Stacks[0].Parameters[?ParameterKey=='$1'].ParameterValue | [0]" 2>/dev/null | sed 's/^None$//'
}

stack_args=()
[ -z "${STACK_NAME:-}" ] || stack_args=(--stack-name "$STACK_NAME")

# deploy ORIGIN: sam deploy with samconfig.toml's parameters and then DistributionOrigin=ORIGIN (the
# later value wins), so that a deploy from samconfig.toml never drops the origin the second pass set.
deploy() {
    local overrides
    mapfile -t overrides < <(samconfig parameter_overrides)
    scripts/sam.sh deploy --config-env "$config_env" "${stack_args[@]}" --region "$region" \
        --no-fail-on-empty-changeset --parameter-overrides "${overrides[@]}" "DistributionOrigin=\"$1\""
}

# --- 1. Build: the functions, then the web app.
scripts/package.sh
if [ ! -d web/node_modules ]; then
    say "npm ci in web/ (installs its locked dependencies; once)"
    (cd web && npm ci)
fi
say "npm run build in web/ (type check, then vite build into web/dist)"
(cd web && npm run build)
[ -f web/dist/index.html ] || die "npm run build wrote no web/dist/index.html: see its output above"

# --- 2. Deploy.
if $first_run; then
    say "no '$config_env' environment in $samconfig yet: sam deploy --guided asks for the parameters" \
        "(docs/deployment.md, \"Parameters\"; leave DistributionOrigin empty) and saves them there"
    scripts/sam.sh deploy --guided --config-env "$config_env" "${stack_args[@]}"
    [ -n "$(samconfig stack_name)" ] ||
        die "sam deploy --guided saved no '$config_env' environment in $samconfig: run again and answer Y to saving the arguments"
    region=$(samconfig region)
    region=${region:-${AWS_REGION:-us-east-1}}
fi
stack=${STACK_NAME:-$(samconfig stack_name)}
if ! $first_run; then
    known=$(stack_output DistributionDomainName)
    say "sam deploy of stack $stack in $region (a CloudFront change takes several minutes)"
    deploy "${known:+https://$known}"
fi

# --- 3. The distribution's own origin, for the CSRF check and the uploads bucket's CORS. The
# functions cannot read it from the distribution (it depends on the HTTP API, which depends on
# them); a custom domain is known in advance, and then this pass never runs.
domain=$(stack_output DistributionDomainName)
[ -n "$domain" ] || die "stack $stack has no DistributionDomainName output: see the deploy's errors above"
if [ -z "$(stack_parameter AppDomainName)" ] && [ "$(stack_parameter DistributionOrigin)" != "https://$domain" ]; then
    say "second deploy: the functions and the uploads bucket admit the app's origin, https://$domain"
    deploy "https://$domain"
fi

bucket=$(stack_output SiteBucketName)
distribution=$(stack_output DistributionId)
app_url=$(stack_output AppUrl)
if [ -z "$bucket" ] || [ -z "$distribution" ]; then
    die "stack $stack has no SiteBucketName or DistributionId output: was it deployed from this template.yaml?"
fi

# --- 4. The web app: hashed assets first, cached for a year (they never change), so the new
# index.html never names a file not yet there; then every other file, revalidated on each load;
# last, the assets the new build no longer names.
say "uploading web/dist to s3://$bucket"
aws s3 sync web/dist/assets "s3://$bucket/assets" --region "$region" --only-show-errors \
    --cache-control "public, max-age=31536000, immutable"
aws s3 sync web/dist "s3://$bucket" --region "$region" --only-show-errors --delete \
    --exclude "assets/*" --cache-control "no-cache"
aws s3 sync web/dist/assets "s3://$bucket/assets" --region "$region" --only-show-errors --delete

say "invalidating the distribution's cache (/*: the edges fetch the new files within minutes)"
aws cloudfront create-invalidation --distribution-id "$distribution" --paths '/*' \
    --query Invalidation.Id --output text >/dev/null

say "done; the app is at:"
echo "$app_url"
