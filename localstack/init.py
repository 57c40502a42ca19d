"""Creates what the functions expect in LocalStack: the bucket, the jobs queue and its dead-letter
queue, and the verified SES identity reset emails come from (MAIL_FROM).

Idempotent: creating what exists changes nothing. Names come from the same variables the
functions read (STORAGE_ROOT, QUEUE_URL, DEAD_LETTER_QUEUE_URL, MAIL_FROM), so the two cannot disagree.
"""

import json
import os
import sys

import boto3

endpoint = os.environ.get("AWS_ENDPOINT_URL", "http://127.0.0.1:4566")
region = os.environ.get("AWS_REGION", "us-east-1")
storage_root = os.environ["STORAGE_ROOT"]
queue_url = os.environ["QUEUE_URL"]

if not storage_root.startswith("s3://"):
    sys.exit(f"STORAGE_ROOT must look like s3://bucket/prefix, got {storage_root!r}")
bucket = storage_root[len("s3://"):].split("/", 1)[0]
queue_name = queue_url.rstrip("/").rsplit("/", 1)[-1]
dlq_url_wanted = os.environ.get("DEAD_LETTER_QUEUE_URL", "")
dlq_name = dlq_url_wanted.rstrip("/").rsplit("/", 1)[-1] if dlq_url_wanted else f"{queue_name}-dlq"

session = boto3.session.Session(
    aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
    aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    region_name=region,
)
s3 = session.client("s3", endpoint_url=endpoint)
sqs = session.client("sqs", endpoint_url=endpoint)

existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
if bucket not in existing:
    s3.create_bucket(Bucket=bucket)

dlq_url = sqs.create_queue(
    QueueName=dlq_name,
    # 14 days, SQS's maximum: time to inspect and redrive failed jobs.
    Attributes={"MessageRetentionPeriod": "1209600"},
)["QueueUrl"]
dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
attributes = {
    # As template.yaml: 6x the file processor's 60 s timeout, and 5 receives before the DLQ.
    "VisibilityTimeout": os.environ.get("JOBS_VISIBILITY_TIMEOUT_SECS", "360"),
    "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "5"}),
}
created_url = sqs.create_queue(QueueName=queue_name)["QueueUrl"]
sqs.set_queue_attributes(QueueUrl=created_url, Attributes=attributes)
# As template.yaml: only direct uploads (<prefix>/incoming/) notify the jobs queue.
prefix = storage_root[len("s3://"):].split("/", 1)[1].strip("/") if "/" in storage_root[len("s3://"):] else ""
queue_arn = sqs.get_queue_attributes(QueueUrl=created_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
s3.put_bucket_notification_configuration(
    Bucket=bucket,
    NotificationConfiguration={
        "QueueConfigurations": [
            {
                "QueueArn": queue_arn,
                "Events": ["s3:ObjectCreated:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{prefix}/incoming/" if prefix else "incoming/"}]}},
            }
        ]
    },
)
s3.put_bucket_cors(
    Bucket=bucket,
    CORSConfiguration={"CORSRules": [{"AllowedMethods": ["PUT", "GET"], "AllowedOrigins": ["*"],
                                      "AllowedHeaders": ["content-type", "if-none-match"], "MaxAgeSeconds": 3600}]},
)

# As in AWS, SES refuses to send from an identity that is not verified; LocalStack verifies at once.
mail_from = os.environ.get("MAIL_FROM", "")
if mail_from:
    session.client("ses", endpoint_url=endpoint).verify_email_identity(EmailAddress=mail_from)

if dlq_url_wanted and dlq_url != dlq_url_wanted:
    sys.exit(f"DEAD_LETTER_QUEUE_URL is {dlq_url_wanted} but LocalStack named the queue {dlq_url}: set DEAD_LETTER_QUEUE_URL to that")
if created_url != queue_url:
    sys.exit(f"QUEUE_URL is {queue_url} but LocalStack named the queue {created_url}: set QUEUE_URL to that")

sender = f", mail from {mail_from}" if mail_from else ""
print(f"LocalStack ready: bucket s3://{bucket}, queue {queue_name} with dead-letter queue {dlq_name}{sender}", file=sys.stderr)
