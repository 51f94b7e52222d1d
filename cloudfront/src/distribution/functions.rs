//! Running one function as Lambda@Edge does: its quotas, its result judged by the one validator,
//! and CloudFront's answer when it fails.

use super::*;

pub(super) fn generated_response(response: Response) -> HttpResponse {
    HttpResponse {
        status: response.status_code().unwrap_or(502),
        body: response
            .body
            .as_deref()
            .map(|b| decode_body(b, response.body_encoding))
            .unwrap_or_default(),
        headers: response.headers,
    }
}

/// A function's result with the rules it breaks.
pub(super) type Judged = (
    Result<FunctionResult, edge_functions::function::FunctionError>,
    Vec<rules::Violation>,
);

/// Runs the function and judges its result with the one validator.
pub(super) fn judge(
    functions: &EdgeFunctions,
    trigger: EventType,
    cf: &Cf,
    supplied: &Supplied,
) -> Judged {
    let result = functions.run(trigger, cf, supplied);
    let violations = match &result {
        Ok(result) => rules::validate(trigger, cf, result),
        Err(_) => Vec::new(),
    };
    (result, violations)
}

pub(super) fn panic_message(join: tokio::task::JoinError) -> String {
    match join.try_into_panic() {
        Ok(payload) => panic_text(payload.as_ref()),
        Err(err) => err.to_string(),
    }
}

pub(super) fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

impl Distribution {
    /// Runs one function with its quotas, and judges its result.
    pub(super) async fn call(
        &self,
        association: &Association,
        cf: Cf,
        log: &mut RequestLog,
    ) -> Result<FunctionResult, FunctionFailure> {
        let trigger = association.config.trigger;
        let functions = association.functions.clone();
        let limit = Duration::from_secs(association.config.timeout_secs);
        let started = Instant::now();
        let needs = functions.needs(trigger, &cf);
        // A function that needs no data is pure computation (a fraction of a microsecond for
        // the site's viewer triggers): it runs right here, and its time limit is checked when it
        // returns. One that needs data may wait on a store, so it runs on the blocking pool
        // under a real timeout.
        let outcome: Result<Result<Judged, String>, ()> = if needs.is_empty() {
            let ran = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                judge(&functions, trigger, &cf, &Supplied::default())
            }))
            .map_err(|payload| panic_text(payload.as_ref()));
            if started.elapsed() > limit {
                Err(())
            } else {
                Ok(ran)
            }
        } else {
            let data = self.data.clone();
            let task = tokio::task::spawn_blocking(move || {
                let supplied = Supplied::fetch(
                    &needs,
                    data.store.as_ref(),
                    data.templates.as_ref(),
                    data.caller.as_ref(),
                );
                judge(&functions, trigger, &cf, &supplied)
            });
            match tokio::time::timeout(limit, task).await {
                Err(_) => Err(()),
                Ok(joined) => Ok(joined.map_err(panic_message)),
            }
        };
        log.triggers.push((trigger, started.elapsed()));
        let fail = |failure, reason: String| Err(FunctionFailure { failure, reason });
        match outcome {
            Err(_) => fail(
                Failure::LambdaLimitExceeded,
                format!(
                    "{} ({trigger}) ran past its {limit:?} timeout",
                    association.config.name
                ),
            ),
            Ok(Err(panic)) => fail(
                Failure::LambdaExecutionError,
                format!("{} ({trigger}) crashed: {panic}", association.config.name),
            ),
            Ok(Ok((Err(err), _))) => fail(
                Failure::LambdaExecutionError,
                format!("{} ({trigger}) failed: {err}", association.config.name),
            ),
            Ok(Ok((Ok(_), violations))) if !violations.is_empty() => fail(
                Failure::LambdaValidationError,
                format!(
                    "{} ({trigger}) returned a result CloudFront refuses: {}",
                    association.config.name,
                    violations
                        .iter()
                        .map(|v| v.to_string())
                        .collect::<Vec<_>>()
                        .join("; ")
                ),
            ),
            Ok(Ok((Ok(result), _))) => Ok(result),
        }
    }

    pub(super) fn function_failed(
        &self,
        failure: FunctionFailure,
        log: &mut RequestLog,
    ) -> HttpResponse {
        tracing::warn!("{}: {}", failure.failure, failure.reason);
        log.error = Some(format!("{}: {}", failure.failure.name(), failure.reason));
        log.cache = failure.failure.name().to_owned();
        let message = match failure.failure {
            Failure::LambdaValidationError => {
                "The Lambda function returned an invalid response to CloudFront."
            }
            Failure::LambdaExecutionError => {
                "The Lambda function associated with the CloudFront distribution is invalid or doesn't have the required permissions."
            }
            Failure::LambdaLimitExceeded => {
                "The Lambda function associated with the CloudFront distribution was throttled or ran out of time."
            }
        };
        edge_error(failure.failure.status(), message, failure.failure.name())
    }

    pub(super) fn cf(
        &self,
        trigger: EventType,
        request_id: &str,
        request: Request,
        response: Option<Response>,
    ) -> Cf {
        Cf {
            config: Config {
                distribution_domain_name: DOMAIN.into(),
                distribution_id: DISTRIBUTION_ID.into(),
                event_type: trigger,
                request_id: request_id.to_owned(),
                extra: Default::default(),
            },
            request,
            response,
            extra: Default::default(),
        }
    }
}
