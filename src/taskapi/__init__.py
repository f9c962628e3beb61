"""taskapi: task-management REST API (API Gateway -> Lambda -> DynamoDB, EventBridge)."""
