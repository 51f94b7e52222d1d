//! A trigger's function: an ordered chain of steps (the blocks), and what each trigger may change.
//!
//! The types say what CloudFront allows: a step sees the request through [`RequestEdit`], which
//! has no way to touch `origin`; only an origin-request step is handed the origin. A
//! viewer-response step gets the response headers and nothing else, so it cannot change the
//! status. A function never does I/O: origin functions say what data they need first
//! ([`OriginRequestFunction::needs`]) and run on what the host [`Supplied`].

use std::collections::BTreeSet;
use std::ops::Deref;
use std::sync::Arc;

use crate::data::{Needs, Supplied};
use crate::event::{Cf, EventType, FunctionResult, Headers, Origin, Request, Response};

/// What a request step decides.
#[derive(Debug, Clone, PartialEq)]
pub enum Flow {
    /// Go on with the (possibly edited) request.
    Continue,
    /// Answer the viewer with this response; later steps do not run.
    Respond(Response),
}

/// Why a function failed: CloudFront answers 503 LambdaExecutionError.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    #[error("template `{name}` is missing from the origin")]
    MissingTemplate { name: String },
    #[error("template `{name}`: {message}")]
    Template { name: String, message: String },
    #[error("{0}")]
    Other(String),
}

/// The request as a step may change it: uri, querystring, headers, and a replacement body.
/// Reading goes through `Deref`, so every field can be read; `origin` cannot be written.
pub struct RequestEdit<'a> {
    request: &'a mut Request,
}

impl<'a> RequestEdit<'a> {
    pub fn new(request: &'a mut Request) -> RequestEdit<'a> {
        RequestEdit { request }
    }

    pub fn set_uri(&mut self, uri: impl Into<String>) {
        self.request.uri = uri.into();
    }

    pub fn set_querystring(&mut self, querystring: impl Into<String>) {
        self.request.querystring = querystring.into();
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.request.headers
    }
}

impl Deref for RequestEdit<'_> {
    type Target = Request;
    fn deref(&self) -> &Request {
        self.request
    }
}

/// The response as an origin-response step may change it: status, headers and body.
pub struct ResponseEdit<'a> {
    response: &'a mut Response,
}

impl<'a> ResponseEdit<'a> {
    pub fn new(response: &'a mut Response) -> ResponseEdit<'a> {
        ResponseEdit { response }
    }

    pub fn set_status(&mut self, status: u16) {
        self.response.status = status.to_string();
        self.response.status_description = Some(crate::event::reason_phrase(status).to_owned());
    }

    pub fn headers_mut(&mut self) -> &mut Headers {
        &mut self.response.headers
    }

    /// Replaces the origin's body with a text body.
    pub fn set_text_body(&mut self, body: String) {
        self.response.body = Some(body);
        self.response.body_encoding = Some(crate::event::BodyEncoding::Text);
    }
}

impl Deref for ResponseEdit<'_> {
    type Target = Response;
    fn deref(&self) -> &Response {
        self.response
    }
}

/// Header names a function looks at, lowercase: those it reads, appends to or removes. Setting a
/// header replaces it and needs no read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderNames {
    All,
    Only(BTreeSet<String>),
}

impl Default for HeaderNames {
    fn default() -> Self {
        HeaderNames::Only(BTreeSet::new())
    }
}

impl HeaderNames {
    pub fn add(&mut self, name: &str) {
        if let HeaderNames::Only(names) = self {
            names.insert(name.to_ascii_lowercase());
        }
    }

    pub fn contains(&self, name: &str) -> bool {
        match self {
            HeaderNames::All => true,
            HeaderNames::Only(names) => names.contains(name),
        }
    }

    /// Adds a name as it is (cookie names and query parameters are case-sensitive).
    pub fn add_exact(&mut self, name: &str) {
        if let HeaderNames::Only(names) = self {
            names.insert(name.to_owned());
        }
    }

    fn merge(&mut self, other: HeaderNames) {
        match other {
            HeaderNames::All => *self = HeaderNames::All,
            HeaderNames::Only(names) => names.iter().for_each(|n| self.add_exact(n)),
        }
    }
}

/// What a function reads of an event's headers. A host that copies headers out of the event (the
/// Python host) copies only these, and writes back only what the function changed; the others
/// stay as CloudFront sent them. A step that does not say reads everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HeaderReads {
    pub request: HeaderNames,
    pub response: HeaderNames,
    /// The request's cookies the step reads, by name (the distribution check compares them with
    /// the cookies the behavior's policies give origin functions).
    pub cookies: HeaderNames,
    /// The query parameters it reads, by name.
    pub query: HeaderNames,
}

impl HeaderReads {
    /// Everything: what a step that does not declare its reads gets.
    pub fn all() -> HeaderReads {
        HeaderReads {
            request: HeaderNames::All,
            response: HeaderNames::All,
            cookies: HeaderNames::All,
            query: HeaderNames::All,
        }
    }

    pub fn request(&mut self, name: &str) {
        self.request.add(name);
    }

    pub fn response(&mut self, name: &str) {
        self.response.add(name);
    }

    /// A cookie of the request (which reads its `cookie` header).
    pub fn cookie(&mut self, name: &str) {
        self.request.add("cookie");
        self.cookies.add_exact(name);
    }

    /// A query parameter of the request.
    pub fn query(&mut self, name: &str) {
        self.query.add_exact(name);
    }
}

/// Where an origin step acts: the request paths it may change or answer. The distribution check
/// asks it only of the behaviors whose path pattern can reach those paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Paths {
    Any,
    Only(Vec<PathSpec>),
}

impl Paths {
    /// The paths under `prefixes`; none listed: any path (what blocks with a `prefixes`
    /// setting act on).
    pub fn under(prefixes: &[String]) -> Paths {
        if prefixes.is_empty() {
            Paths::Any
        } else {
            Paths::Only(prefixes.iter().cloned().map(PathSpec::Prefix).collect())
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathSpec {
    Exact(String),
    Prefix(String),
}

/// A viewer-request customization.
pub trait ViewerRequestStep: Send + Sync {
    /// What the step will need to handle this request (nothing, by default): a sign-in block's
    /// token exchange is the one viewer-request need.
    fn needs(&self, _request: &Request, _needs: &mut Needs) {}

    fn viewer_request(&self, request: &mut RequestEdit<'_>, data: &Supplied) -> Flow;

    /// The headers the step reads (all, unless it says).
    fn header_reads(&self, reads: &mut HeaderReads) {
        *reads = HeaderReads::all();
    }
}

/// An origin-request customization.
pub trait OriginRequestStep: Send + Sync {
    /// What the step will need to handle this request (nothing, by default).
    fn needs(&self, _request: &Request, _needs: &mut Needs) {}

    fn origin_request(
        &self,
        request: &mut RequestEdit<'_>,
        origin: &mut Option<Origin>,
        data: &Supplied,
    ) -> Result<Flow, FunctionError>;

    /// The headers the step reads (all, unless it says).
    fn header_reads(&self, reads: &mut HeaderReads) {
        *reads = HeaderReads::all();
    }

    /// The paths it acts on (any, unless it says).
    fn paths(&self) -> Paths {
        Paths::Any
    }
}

/// An origin-response customization.
pub trait OriginResponseStep: Send + Sync {
    fn needs(&self, _request: &Request, _response: &Response, _needs: &mut Needs) {}

    fn origin_response(
        &self,
        request: &Request,
        response: &mut ResponseEdit<'_>,
        data: &Supplied,
    ) -> Result<(), FunctionError>;

    /// The headers the step reads (all, unless it says).
    fn header_reads(&self, reads: &mut HeaderReads) {
        *reads = HeaderReads::all();
    }

    /// The headers the step reads (for its `needs` too) of a response that has `status` when
    /// the step sees it, for a step that acts only on some statuses (by default, what
    /// `header_reads` says).
    fn header_reads_for_status(&self, status: u16, reads: &mut HeaderReads) {
        let _ = status;
        self.header_reads(reads);
    }

    /// Whether the step may change the response's status, so that the steps after it may see
    /// another status than the origin's (yes, unless it says otherwise).
    fn sets_status(&self) -> bool {
        true
    }

    /// The paths it acts on (any, unless it says).
    fn paths(&self) -> Paths {
        Paths::Any
    }
}

/// A viewer-response customization: headers only.
pub trait ViewerResponseStep: Send + Sync {
    fn viewer_response(&self, request: &Request, status: u16, headers: &mut Headers);

    /// The headers the step reads (all, unless it says).
    fn header_reads(&self, reads: &mut HeaderReads) {
        *reads = HeaderReads::all();
    }
}

/// Something that finishes every response a function generates itself (a viewer-request
/// redirect, an origin-request page): generated responses skip origin-response, so headers that
/// must be on every response are added here too.
pub trait GeneratedResponseStep: Send + Sync {
    fn finish(&self, response: &mut Response);
}

/// The viewer-request function: steps in order until one answers.
#[derive(Default, Clone)]
pub struct ViewerRequestFunction {
    pub steps: Vec<Arc<dyn ViewerRequestStep>>,
    pub finish: Vec<Arc<dyn GeneratedResponseStep>>,
}

impl ViewerRequestFunction {
    pub fn needs(&self, request: &Request) -> Needs {
        let mut needs = Needs::default();
        self.steps.iter().for_each(|s| s.needs(request, &mut needs));
        needs
    }

    pub fn run(&self, request: &mut Request, data: &Supplied) -> Flow {
        let mut edit = RequestEdit::new(request);
        for step in &self.steps {
            if let Flow::Respond(mut response) = step.viewer_request(&mut edit, data) {
                self.finish.iter().for_each(|f| f.finish(&mut response));
                return Flow::Respond(response);
            }
        }
        Flow::Continue
    }
}

/// The origin-request function.
#[derive(Default, Clone)]
pub struct OriginRequestFunction {
    pub steps: Vec<Arc<dyn OriginRequestStep>>,
    pub finish: Vec<Arc<dyn GeneratedResponseStep>>,
}

impl OriginRequestFunction {
    pub fn needs(&self, request: &Request) -> Needs {
        let mut needs = Needs::default();
        self.steps.iter().for_each(|s| s.needs(request, &mut needs));
        needs
    }

    pub fn run(&self, request: &mut Request, data: &Supplied) -> Result<Flow, FunctionError> {
        let mut origin = request.origin.take();
        let mut edit = RequestEdit::new(request);
        let mut flow = Flow::Continue;
        for step in &self.steps {
            if let Flow::Respond(mut response) =
                step.origin_request(&mut edit, &mut origin, data)?
            {
                self.finish.iter().for_each(|f| f.finish(&mut response));
                flow = Flow::Respond(response);
                break;
            }
        }
        request.origin = origin;
        Ok(flow)
    }
}

/// The origin-response function.
#[derive(Default, Clone)]
pub struct OriginResponseFunction {
    pub steps: Vec<Arc<dyn OriginResponseStep>>,
}

impl OriginResponseFunction {
    pub fn needs(&self, request: &Request, response: &Response) -> Needs {
        let mut needs = Needs::default();
        self.steps
            .iter()
            .for_each(|s| s.needs(request, response, &mut needs));
        needs
    }

    pub fn run(
        &self,
        request: &Request,
        response: &mut Response,
        data: &Supplied,
    ) -> Result<(), FunctionError> {
        let mut edit = ResponseEdit::new(response);
        for step in &self.steps {
            step.origin_response(request, &mut edit, data)?;
        }
        Ok(())
    }
}

/// The viewer-response function.
#[derive(Default, Clone)]
pub struct ViewerResponseFunction {
    pub steps: Vec<Arc<dyn ViewerResponseStep>>,
}

impl ViewerResponseFunction {
    pub fn run(&self, request: &Request, response: &mut Response) {
        let status = response.status_code().unwrap_or(200);
        for step in &self.steps {
            step.viewer_response(request, status, &mut response.headers);
        }
    }
}

/// A site's functions, one per trigger; a trigger without one passes everything through.
#[derive(Default, Clone)]
pub struct EdgeFunctions {
    pub viewer_request: Option<ViewerRequestFunction>,
    pub origin_request: Option<OriginRequestFunction>,
    pub origin_response: Option<OriginResponseFunction>,
    pub viewer_response: Option<ViewerResponseFunction>,
}

impl EdgeFunctions {
    /// Whether this site has a function on the trigger.
    pub fn has(&self, trigger: EventType) -> bool {
        match trigger {
            EventType::ViewerRequest => self.viewer_request.is_some(),
            EventType::OriginRequest => self.origin_request.is_some(),
            EventType::OriginResponse => self.origin_response.is_some(),
            EventType::ViewerResponse => self.viewer_response.is_some(),
        }
    }

    /// The headers the trigger's function reads: the union of its steps' reads. A trigger without
    /// a function reads nothing.
    pub fn header_reads(&self, trigger: EventType) -> HeaderReads {
        match trigger {
            EventType::ViewerRequest => {
                union(self.viewer_request.iter().flat_map(|f| &f.steps), |s, r| {
                    s.header_reads(r)
                })
            }
            EventType::OriginRequest => {
                union(self.origin_request.iter().flat_map(|f| &f.steps), |s, r| {
                    s.header_reads(r)
                })
            }
            EventType::OriginResponse => union(
                self.origin_response.iter().flat_map(|f| &f.steps),
                |s, r| s.header_reads(r),
            ),
            EventType::ViewerResponse => union(
                self.viewer_response.iter().flat_map(|f| &f.steps),
                |s, r| s.header_reads(r),
            ),
        }
    }

    /// The headers the origin-response function reads of a response the origin answered with
    /// `status`: less than [`header_reads`](Self::header_reads) when steps act only on some
    /// statuses. A step after one that may change the status reads what it reads on any status.
    pub fn origin_response_reads(&self, status: u16) -> HeaderReads {
        let mut origin_status = true;
        union(
            self.origin_response.iter().flat_map(|f| &f.steps),
            |s, r| {
                if origin_status {
                    s.header_reads_for_status(status, r);
                } else {
                    s.header_reads(r);
                }
                origin_status &= !s.sets_status();
            },
        )
    }

    /// What each step of an origin trigger's function reads, with the paths it acts on (nothing
    /// for viewer triggers: CloudFront gives them the whole viewer request).
    pub fn origin_step_reads(&self, trigger: EventType) -> Vec<(Paths, HeaderReads)> {
        let read = |paths: Paths, f: &dyn Fn(&mut HeaderReads)| {
            let mut reads = HeaderReads::default();
            f(&mut reads);
            (paths, reads)
        };
        match trigger {
            EventType::OriginRequest => self
                .origin_request
                .iter()
                .flat_map(|f| &f.steps)
                .map(|s| read(s.paths(), &|r| s.header_reads(r)))
                .collect(),
            EventType::OriginResponse => self
                .origin_response
                .iter()
                .flat_map(|f| &f.steps)
                .map(|s| read(s.paths(), &|r| s.header_reads(r)))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// The data the trigger's function needs for this event.
    pub fn needs(&self, trigger: EventType, cf: &Cf) -> Needs {
        match trigger {
            EventType::ViewerRequest => self
                .viewer_request
                .as_ref()
                .map(|f| f.needs(&cf.request))
                .unwrap_or_default(),
            EventType::OriginRequest => self
                .origin_request
                .as_ref()
                .map(|f| f.needs(&cf.request))
                .unwrap_or_default(),
            EventType::OriginResponse => match (&self.origin_response, &cf.response) {
                (Some(f), Some(response)) => f.needs(&cf.request, response),
                _ => Needs::default(),
            },
            _ => Needs::default(),
        }
    }

    /// Runs the trigger's function on an event, as Lambda@Edge would: the result is the request
    /// to continue with, or the response. The event is not changed (the validator compares the
    /// result with it).
    pub fn run(
        &self,
        trigger: EventType,
        cf: &Cf,
        data: &Supplied,
    ) -> Result<FunctionResult, FunctionError> {
        self.run_owned(trigger, cf.clone(), data)
    }

    /// Like [`EdgeFunctions::run`], consuming the event: what a host does when nothing needs the
    /// original afterwards, so the request is edited in place and never copied.
    pub fn run_owned(
        &self,
        trigger: EventType,
        cf: Cf,
        data: &Supplied,
    ) -> Result<FunctionResult, FunctionError> {
        let Cf {
            mut request,
            response,
            ..
        } = cf;
        let missing_response =
            || FunctionError::Other(format!("the {trigger} event must carry the response"));
        match trigger {
            EventType::ViewerRequest => {
                let flow = match &self.viewer_request {
                    Some(f) => f.run(&mut request, data),
                    None => Flow::Continue,
                };
                Ok(match flow {
                    Flow::Continue => FunctionResult::Request(request),
                    Flow::Respond(response) => FunctionResult::Response(response),
                })
            }
            EventType::OriginRequest => {
                let flow = match &self.origin_request {
                    Some(f) => f.run(&mut request, data)?,
                    None => Flow::Continue,
                };
                Ok(match flow {
                    Flow::Continue => FunctionResult::Request(request),
                    Flow::Respond(response) => FunctionResult::Response(response),
                })
            }
            EventType::OriginResponse => {
                let mut response = response.ok_or_else(missing_response)?;
                if let Some(f) = &self.origin_response {
                    f.run(&request, &mut response, data)?;
                }
                Ok(FunctionResult::Response(response))
            }
            EventType::ViewerResponse => {
                let mut response = response.ok_or_else(missing_response)?;
                if let Some(f) = &self.viewer_response {
                    f.run(&request, &mut response);
                }
                Ok(FunctionResult::Response(response))
            }
        }
    }
}

/// The union of what each step reads; one that reads all makes it all.
fn union<'a, S: ?Sized + 'a>(
    steps: impl Iterator<Item = &'a Arc<S>>,
    mut step_reads: impl FnMut(&S, &mut HeaderReads),
) -> HeaderReads {
    let mut reads = HeaderReads::default();
    for step in steps {
        let mut one = HeaderReads::default();
        step_reads(step, &mut one);
        reads.request.merge(one.request);
        reads.response.merge(one.response);
        reads.cookies.merge(one.cookies);
        reads.query.merge(one.query);
    }
    reads
}
