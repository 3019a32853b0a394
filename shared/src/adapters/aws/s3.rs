//! [`ObjectStore`] on S3: `GetObject`, its body streamed as it arrives.
use async_trait::async_trait;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::get_object::GetObjectError;

use crate::ports::objects::{ObjectBody, ObjectError, ObjectRef, ObjectStore};

#[derive(Clone)]
pub struct S3Objects {
    client: aws_sdk_s3::Client,
}

impl S3Objects {
    /// Over the SDK configuration the other adapters use; an endpoint override (an
    /// emulator) gets path-style addressing, as its buckets have no DNS names.
    pub fn new(sdk: &aws_config::SdkConfig) -> Self {
        let mut config = aws_sdk_s3::config::Builder::from(sdk);
        if sdk.endpoint_url().is_some() {
            config = config.force_path_style(true);
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(config.build()),
        }
    }

    pub fn client(&self) -> &aws_sdk_s3::Client {
        &self.client
    }
}

fn classify(object: &ObjectRef, err: SdkError<GetObjectError>) -> ObjectError {
    let status = err.raw_response().map(|r| r.status().as_u16());
    let code = err.code().map(str::to_string);
    // NoSuchKey, NoSuchBucket and NoSuchVersion all answer 404.
    match (status, code.as_deref()) {
        (Some(404), _) | (_, Some("NoSuchKey" | "NoSuchBucket" | "NoSuchVersion")) => {
            ObjectError::NotFound(object.clone())
        }
        (Some(403), _) | (_, Some("AccessDenied")) => ObjectError::Denied {
            object: object.clone(),
            message: DisplayErrorContext(&err).to_string(),
        },
        _ => ObjectError::Unavailable(format!("GetObject {object}: {}", DisplayErrorContext(&err))),
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn open(&self, object: &ObjectRef) -> Result<ObjectBody, ObjectError> {
        let out = self
            .client
            .get_object()
            .bucket(&object.bucket)
            .key(&object.key)
            .set_version_id(object.version.clone())
            .send()
            .await
            .map_err(|e| classify(object, e))?;
        Ok(Box::new(out.body.into_async_read()))
    }
}
